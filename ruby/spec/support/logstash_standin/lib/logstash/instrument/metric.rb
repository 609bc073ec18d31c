# encoding: utf-8
require "logstash/namespace"

module LogStash
  module Instrument
    # Holds every metric value by its full path (namespaces plus key).
    class Collector
      def initialize
        @values = {}
        @lock = Mutex.new
      end

      def increment(path, by)
        @lock.synchronize { @values[path] = (@values[path] || 0) + by }
      end

      def gauge(path, value)
        @lock.synchronize { @values[path] = value }
      end

      # The value at namespaces + key, or nil.
      def value(*path)
        @lock.synchronize { @values[path] }
      end

      # Every path and value.
      def snapshot
        @lock.synchronize { @values.dup }
      end
    end

    # The metric object a plugin gets: namespace / increment / decrement / gauge / time.
    class NamespacedMetric
      attr_reader :namespace_name

      def initialize(collector, namespace_name)
        @collector = collector
        @namespace_name = namespace_name
      end

      def namespace(*names)
        NamespacedMetric.new(@collector, @namespace_name + names.flatten.map { |name| check_key(name) })
      end

      def increment(key, by = 1)
        @collector.increment(path(key), by)
      end

      def decrement(key, by = 1)
        @collector.increment(path(key), -by)
      end

      def gauge(key, value)
        @collector.gauge(path(key), value)
      end

      def time(key)
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
        result = yield
        @collector.increment(path(key), Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond) - started)
        result
      end

      private

      def path(key)
        @namespace_name + [check_key(key)]
      end

      # Logstash rejects empty keys; symbols are what plugins use.
      def check_key(key)
        raise ArgumentError, "metric key must be a non-empty Symbol, got #{key.inspect}" unless key.is_a?(Symbol) && !key.empty?
        key
      end
    end

    # What `metric` gives when no metric was set: takes everything, keeps nothing.
    class NullMetric
      def namespace(*_names)
        self
      end

      def increment(_key, _by = 1); end

      def decrement(_key, _by = 1); end

      def gauge(_key, _value); end

      def time(_key)
        yield
      end
    end
  end
end
