# encoding: utf-8

class LogStash::Outputs::Kinesis
  # Submits batches, blocking the pipeline while the producer holds max_pending_records (or
  # max_pending_bytes). Unlike the old gem, it blocks only until there is room again, not until
  # everything has drained. The log lines are the old gem's, once per blocking spell.
  class Backpressure
    BLOCKING_MESSAGE = "Kinesis is too busy - blocking until things have cleared up".freeze
    UNBLOCKED_MESSAGE = "Okay - I've stopped blocking now".freeze
    # Longest single wait inside the producer, so that shutdown requests are noticed.
    WAIT_SLICE_MS = 200

    def initialize(producer, logger, max_pending_records)
      @producer = producer
      @logger = logger
      @max_pending_records = max_pending_records
      @lock = Mutex.new
      @blocked_workers = 0
    end

    # Submits `packed` and returns its batch id. While the producer is full it waits, calling
    # the block between waits (the block may raise to give up, e.g. at shutdown).
    def submit(packed)
      batch = @producer.submit(packed, 0)
      return batch if batch
      blocked do
        loop do
          batch = @producer.submit(packed, WAIT_SLICE_MS)
          return batch if batch
          yield if block_given?
        end
      end
    end

    private

    # Logs the WARN when the first worker blocks and the INFO when the last one unblocks.
    def blocked
      @lock.synchronize do
        @blocked_workers += 1
        if @blocked_workers == 1
          records, = @producer.outstanding
          @logger.warn(BLOCKING_MESSAGE, :pending_records => records, :max_pending_records => @max_pending_records)
        end
      end
      yield
    ensure
      @lock.synchronize do
        @blocked_workers -= 1
        @logger.info(UNBLOCKED_MESSAGE) if @blocked_workers.zero?
      end
    end
  end
end
