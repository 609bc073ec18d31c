# encoding: utf-8
require "logstash/namespace"
require "logstash/plugin"

module LogStash
  module Codecs
    @registry = {}

    # The codec class registered under `name`, or nil.
    def self.lookup(name)
      @registry[name]
    end

    def self.register(name, klass)
      @registry[name] = klass
    end

    # A codec: `multi_encode(events)` gives [[event, String], ...] for synchronous codecs.
    class Base < LogStash::Plugin
      def multi_encode(events)
        events.map { |event| [event, encode_sync(event)] }
      end
    end
  end
end
