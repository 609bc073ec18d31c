# encoding: utf-8

# Hands pipeline workers batches of event sequence numbers, like a queue in front of the
# output: either the events 0..N-1 (minus those already acked, as a persistent queue replays
# after a restart) or, with a duration, as many as arrive in that time. With a rate, events
# arrive at that many per second overall; a worker that falls behind (backpressure) catches
# up at full speed, as it would drain a queue that filled up meanwhile.
class EventSource
  attr_reader :taken

  # events: N, or nil with duration_s; rate: events per second, 0 for no limit;
  # skip: sequence numbers to leave out (a Hash used as a set).
  def initialize(events:, duration_s:, rate:, batch:, skip: {})
    @events = events
    @duration_s = duration_s
    @rate = rate
    @batch = batch
    @skip = skip
    @next_seq = 0
    @taken = 0
    @stopped = false
    @lock = Mutex.new
    # The duration and the rate count from the first batch handed out.
    @started = nil
  end

  # The next batch of sequence numbers, or nil when there are no more (or stop! was called).
  def next_batch
    seqs, due = @lock.synchronize { take }
    return nil if seqs.nil?
    wait = due - now
    sleep(wait) if wait > 0
    seqs
  end

  # No batch is handed out after this (a pipeline shutting down stops reading its queue).
  def stop!
    @lock.synchronize { @stopped = true }
  end

  def stopped?
    @lock.synchronize { @stopped }
  end

  private

  def take
    return nil if @stopped
    @started ||= now
    return nil if @duration_s && now - @started >= @duration_s
    seqs = []
    while seqs.size < @batch && (@events.nil? || @next_seq < @events)
      seqs << @next_seq unless @skip[@next_seq]
      @next_seq += 1
    end
    return nil if seqs.empty?
    due = @rate > 0 ? @started + @taken.to_f / @rate : 0
    @taken += seqs.size
    [seqs, due]
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
