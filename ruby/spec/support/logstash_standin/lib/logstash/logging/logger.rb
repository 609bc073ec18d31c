# encoding: utf-8
require "logstash/namespace"

module LogStash
  module Logging
    # A log4j-like logger that keeps its lines for the specs to read. Like Logstash's, it takes a
    # String message and an optional Hash of details.
    class Logger
      LEVELS = [:trace, :debug, :info, :warn, :error, :fatal].freeze
      # One logged line.
      Line = Struct.new(:level, :message, :data)

      @registry = {}
      @registry_lock = Mutex.new

      # The logger of that name (one per name, as in log4j).
      def self.named(name)
        @registry_lock.synchronize { @registry[name] ||= new(name) }
      end

      # Every logger created so far.
      def self.all
        @registry_lock.synchronize { @registry.values }
      end

      attr_reader :name

      def initialize(name)
        @name = name
        @lines = []
        @lock = Mutex.new
      end

      LEVELS.each do |level|
        define_method(level) { |message, data = {}| record(level, message, data) }
        define_method("#{level}?") { true }
      end

      # A copy of the lines logged so far.
      def lines
        @lock.synchronize { @lines.dup }
      end

      def clear
        @lock.synchronize { @lines.clear }
      end

      private

      def record(level, message, data)
        raise ArgumentError, "log message must be a String, got #{message.class}" unless message.is_a?(String)
        raise ArgumentError, "log details must be a Hash, got #{data.class}" unless data.is_a?(Hash)
        @lock.synchronize { @lines << Line.new(level, message, data) }
        nil
      end
    end
  end

  module Util
    # Gives classes and their instances a `logger` named after the class:
    # LogStash::Outputs::Kinesis -> "logstash.outputs.kinesis".
    module Loggable
      def self.included(base)
        base.extend(self)
      end

      def logger
        klass = is_a?(Module) ? self : self.class
        LogStash::Logging::Logger.named(klass.name.gsub("::", ".").downcase)
      end
    end
  end
end
