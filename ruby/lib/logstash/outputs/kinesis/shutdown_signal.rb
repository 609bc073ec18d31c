# encoding: utf-8

class LogStash::Outputs::Kinesis
  # Knows when a batch still waiting for Kinesis should be handed back to Logstash: only while
  # the pipeline shuts down, only on Logstash 8.8+ (which has AbortedBatchException and replays
  # such batches from the persistent queue), and only after a grace period so that batches about
  # to complete are not sent twice. On older Logstash the batch waits for its outcomes instead
  # (bounded by record_ttl).
  class ShutdownSignal
    ABORTED_BATCH_EXCEPTION = "org.logstash.execution.AbortedBatchException".freeze

    # The Java exception class Logstash catches to keep a batch for replay, or nil.
    def self.aborted_batch_exception
      JavaUtilities.get_proxy_class(ABORTED_BATCH_EXCEPTION)
    rescue NameError, StandardError
      nil
    end

    # shutdown_requested: a callable returning true once the pipeline is stopping.
    def initialize(shutdown_requested, grace_ms, exception_class = self.class.aborted_batch_exception)
      @shutdown_requested = shutdown_requested
      @grace_ms = grace_ms
      @exception_class = exception_class
      @first_seen_at = nil
    end

    # True when this Logstash can take batches back.
    def can_hand_back?
      !@exception_class.nil?
    end

    # True when a batch still waiting should be handed back now.
    def hand_back_now?
      return false unless can_hand_back? && @shutdown_requested.call
      now = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
      @first_seen_at ||= now
      now - @first_seen_at >= @grace_ms
    end

    # Raises the exception that makes Logstash keep the batch without acking it.
    def hand_back!
      raise @exception_class.new
    end
  end
end
