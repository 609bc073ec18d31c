# encoding: utf-8
require "java"
require "json"
require "logstash/outputs/kinesis/native_library"

class LogStash::Outputs::Kinesis
  # The only place that calls the native bridge (Java class kinesis.producer.bridge.NativeProducer).
  # Everything else talks to this small interface, which the specs replace with a fake.
  class Producer
    # The engine refused the configuration; the message names the option, never a secret.
    class InvalidConfig < StandardError; end
    # A call on the producer failed (closed, unknown batch, native error).
    class Failure < StandardError; end

    BRIDGE_CLASS = "kinesis.producer.bridge.NativeProducer".freeze
    GEM_ROOT = File.expand_path("../../../../..", __FILE__)
    LOAD_LOCK = Mutex.new
    # Register asks for the shard count only to warn; it must not hold start-up for long.
    SHARD_COUNT_TIMEOUT_MS = 5_000

    # Loads the bridge's jar and native library once per JVM; returns the Java class.
    def self.bridge
      LOAD_LOCK.synchronize do
        @bridge ||= begin
          require "logstash-output-kinesis_jars"
          # Found before the jar's class is touched: an unsupported platform fails with the reason.
          library = NativeLibrary.path
          klass = JavaUtilities.get_proxy_class(BRIDGE_CLASS)
          klass.load(library)
          klass
        end
      end
    end

    # Creates the native producer from the engine's JSON configuration.
    def initialize(config_json)
      @native = self.class.bridge.new(config_json)
      @close_lock = Mutex.new
      @closed = false
    rescue java.lang.IllegalArgumentException => e
      raise InvalidConfig, e.message
    end

    # Submits a BatchPacker::Packed; the batch id, or nil when the producer stayed full.
    def submit(packed, timeout_ms)
      id = call do
        @native.submit(packed.streams, packed.stream_index, packed.keys, packed.key_lengths,
                       packed.explicit_hash_keys, packed.payloads, packed.payload_lengths, timeout_ms)
      end
      id < 0 ? nil : id
    end

    # Waits up to timeout_ms; true when every record of the batch has its outcome.
    def await(batch, timeout_ms)
      call { @native.await(batch, timeout_ms) }
    end

    # [[delivered?, attempts, code, message], ...] in submit order, or nil while incomplete.
    def outcomes(batch)
      result = call { @native.outcomes(batch) }
      return nil if result.nil?
      all_delivered = result.allDelivered
      Array.new(result.size) do |i|
        if all_delivered || result.isDelivered(i)
          [true, result.attempts(i), nil, nil]
        else
          [false, result.attempts(i), result.code(i), result.message(i)]
        end
      end
    end

    # Forgets a batch; every batch is released exactly once.
    def release(batch)
      call { @native.release(batch) }
    end

    # [records, bytes, age in ms of the oldest (nil when none)] still without an outcome.
    def outstanding
      call do
        age = @native.oldestPendingAgeMillis
        [@native.outstandingRecords, @native.outstandingBytes, age < 0 ? nil : age]
      end
    end

    # Sends what is buffered for `stream` (every stream when nil) now.
    def flush(stream = nil)
      call { @native.flush(stream) }
    end

    # Engine totals since start, summed over streams and shards: {"Metric" => {"sum" =>, "count" =>}}.
    def metrics
      series = JSON.parse(call { @native.metricsJson })
      series.each_with_object({}) do |entry, totals|
        total = totals[entry["metric"]] ||= { "sum" => 0, "count" => 0 }
        total["sum"] += entry["sum"].to_f
        total["count"] += entry["count"].to_i
      end
    end

    # Number of open shards of `stream` (one ListShards walk); raises Failure when unknown.
    def shard_count(stream, timeout_ms = SHARD_COUNT_TIMEOUT_MS)
      call { @native.openShardCount(stream, timeout_ms) }
    end

    # Sends what is buffered and stops, waiting up to timeout_ms; records still without an
    # outcome then fail with ProducerClosed. Frees the native producer; later calls do nothing.
    # Returns the number of records failed by the deadline (nil if already closed).
    def close(timeout_ms)
      @close_lock.synchronize do
        return nil if @closed
        @closed = true
      end
      call { @native.close(timeout_ms) }
    end

    private

    # Java exceptions from the bridge become Producer::Failure.
    def call
      yield
    rescue java.lang.RuntimeException, java.lang.InterruptedException => e
      raise Failure, "#{e.getClass.getSimpleName}: #{e.message}"
    end
  end
end
