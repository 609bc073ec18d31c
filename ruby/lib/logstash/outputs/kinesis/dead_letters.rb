# encoding: utf-8

class LogStash::Outputs::Kinesis
  # Where events that failed for good go: the dead letter queue when it is enabled, else an
  # ERROR log line. Either way they are counted; none disappears silently.
  class DeadLetters
    # dlq_writer: the execution context's writer, or nil.
    def initialize(dlq_writer, logger, metrics)
      @writer = self.class.enabled?(dlq_writer) ? dlq_writer : nil
      @logger = logger
      @metrics = metrics
    end

    # True when the pipeline's dead letter queue is on.
    def enabled?
      !@writer.nil?
    end

    # Logstash hands a writer even with the DLQ off: its inner writer is then nil or a dummy.
    def self.enabled?(dlq_writer)
      return false if dlq_writer.nil? || !dlq_writer.respond_to?(:write)
      return true unless dlq_writer.respond_to?(:inner_writer)
      inner = dlq_writer.inner_writer
      return false if inner.nil?
      !(defined?(::LogStash::Util::DummyDeadLetterQueueWriter) && inner.is_a?(::LogStash::Util::DummyDeadLetterQueueWriter))
    end

    # Records that `event` could not be delivered; `reason` names the cause (no secrets).
    def fail(event, reason, details = {})
      @metrics.failed(1)
      if @writer
        write_dead_letter(event, reason, details)
      else
        @metrics.dropped(1)
        @logger.error("Could not send an event to Kinesis; dropping it (the dead letter queue is off)",
                      details.merge(:reason => reason))
      end
    end

    private

    def write_dead_letter(event, reason, details)
      @writer.write(event, reason)
      @metrics.dead_lettered(1)
      @logger.warn("Could not send an event to Kinesis; wrote it to the dead letter queue",
                   details.merge(:reason => reason))
    rescue StandardError => e
      @metrics.dropped(1)
      @logger.error("Could not send an event to Kinesis nor write it to the dead letter queue; dropping it",
                    details.merge(:reason => reason, :dead_letter_queue_error => e.message))
    end
  end
end
