# encoding: utf-8
require "logstash/namespace"
require "logstash/plugin"
require "logstash/event"
require "logstash/codecs/json"
require "logstash/codecs/plain"

module LogStash
  module Outputs
    # The base of outputs: codec option, concurrency declaration, and the multi_receive that
    # encodes with the codec when the output defines multi_receive_encoded.
    class Base < LogStash::Plugin
      # How events are turned into bytes.
      config :codec, :validate => :codec, :default => "plain"
      # Obsolete since Logstash 6.
      config :workers, :obsolete => "Use the pipeline's pipeline.workers setting."

      def self.concurrency(type = nil)
        @concurrency = type if type
        @concurrency || :single
      end

      def initialize(params = {})
        super
        @receives_encoded = respond_to?(:multi_receive_encoded)
      end

      def codec
        @codec
      end

      # Called by pipeline workers, with a possibly empty Array of events.
      def multi_receive(events)
        if @receives_encoded
          multi_receive_encoded(codec.multi_encode(events))
        else
          events.each { |event| receive(event) }
        end
      end

      # Logstash 8.2+.
      def pipeline_shutdown_requested?
        pipeline = execution_context.pipeline
        pipeline ? pipeline.shutdown_requested? : false
      end
    end
  end
end
