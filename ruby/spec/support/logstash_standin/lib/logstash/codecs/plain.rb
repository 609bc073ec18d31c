# encoding: utf-8
require "logstash/codecs/base"

module LogStash
  module Codecs
    # event.sprintf(format), or event.to_s without a format.
    class Plain < Base
      config_name "plain"
      config :format, :validate => :string

      def encode_sync(event)
        @format ? event.sprintf(@format) : event.to_s
      end
    end
    register("plain", Plain)
  end
end
