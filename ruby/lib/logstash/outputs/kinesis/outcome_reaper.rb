# encoding: utf-8

class LogStash::Outputs::Kinesis
  # For at_most_once delivery: a background thread that waits for the outcomes of submitted
  # batches, in submit order, and settles them, so failures are still counted and dead-lettered.
  class OutcomeReaper
    AWAIT_SLICE_MS = 200
    STOP = Object.new.freeze

    def initialize(producer, settlement, logger)
      @producer = producer
      @settlement = settlement
      @logger = logger
      @queue = Queue.new
      @abandon = false
      @thread = Thread.new { run }
      @thread.name = "kinesis-outcomes" if @thread.respond_to?(:name=)
    end

    # Settles the batch once all its records have outcomes.
    def track(batch, records)
      @queue << [batch, records]
    end

    # Settles what is tracked, then stops. Call after the producer closed (which gives every
    # record an outcome); batches still without outcomes after `timeout_s` count as failed.
    def stop(timeout_s)
      @queue << STOP
      return if @thread.join(timeout_s)
      @abandon = true
      @thread.join
    end

    private

    def run
      loop do
        item = @queue.pop
        break if item.equal?(STOP)
        batch, records = item
        begin
          @settlement.settle(records, outcomes_of(batch, records.size))
        rescue StandardError => e
          @logger.error("Could not settle the outcomes of a batch", :events => records.size, :error => e.message)
        end
      end
    end

    # The batch's outcomes, or nil (every record then counts as failed) when they cannot be read.
    def outcomes_of(batch, size)
      begin
        until @producer.await(batch, AWAIT_SLICE_MS)
          break if @abandon
        end
        @producer.outcomes(batch)
      ensure
        @producer.release(batch)
      end
    rescue StandardError => e
      @logger.error("Could not read the outcomes of a batch; counting its events as failed",
                    :events => size, :error => e.message)
      nil
    end
  end
end
