# encoding: utf-8

class LogStash::Outputs::Kinesis
  # Sends a batch of records through the producer.
  #
  # at_least_once (default): returns only when every record has its outcome, so Logstash acks
  # nothing that is not delivered or dead-lettered. At shutdown a batch still waiting is handed
  # back to Logstash (8.8+) for replay.
  # at_most_once: returns once the producer holds the records (the old gem's behaviour); an
  # OutcomeReaper settles them in the background.
  class Delivery
    # Longest single wait for outcomes, so that shutdown requests are noticed.
    AWAIT_SLICE_MS = 200

    def initialize(producer:, backpressure:, settlement:, metrics:, shutdown:, reaper: nil)
      @producer = producer
      @backpressure = backpressure
      @settlement = settlement
      @metrics = metrics
      @shutdown = shutdown
      @reaper = reaper
    end

    # Sends `records` (an Array of Record); may raise the hand-back exception at shutdown.
    def deliver(records)
      return if records.empty?
      packed = BatchPacker.pack(records)
      batch = @backpressure.submit(packed) do
        @metrics.refresh(@producer)
        hand_back(records) if @shutdown.hand_back_now?
      end
      if @reaper
        @reaper.track(batch, records)
      else
        # This worker adds nothing more until the batch is done: send it now, not after
        # record_max_buffered_time.
        packed.streams.each { |stream| @producer.flush(stream) }
        wait_for(batch, records)
      end
      @metrics.refresh(@producer)
    end

    private

    def wait_for(batch, records)
      outcomes = nil
      begin
        until @producer.await(batch, AWAIT_SLICE_MS)
          # While Kinesis keeps the batch waiting, the pending gauges must not go stale.
          @metrics.refresh(@producer)
          break if @shutdown.hand_back_now?
        end
        outcomes = @producer.outcomes(batch)
      ensure
        @producer.release(batch)
      end
      hand_back(records) if outcomes.nil?
      @settlement.settle(records, outcomes)
    end

    def hand_back(records)
      @metrics.handed_back(records.size)
      @shutdown.hand_back!
    end
  end
end
