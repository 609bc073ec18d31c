# encoding: utf-8
require "logstash/codecs/base"

module LogStash
  module Codecs
    # event.to_json, without a trailing newline and without @metadata.
    class JSON < Base
      config_name "json"

      def encode_sync(event)
        event.to_json
      end
    end
    register("json", JSON)
  end
end
