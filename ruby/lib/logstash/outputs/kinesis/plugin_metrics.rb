# encoding: utf-8

class LogStash::Outputs::Kinesis
  # The plugin's Logstash metrics, under the plugin's id in the node stats API
  # (`pipelines.<id>.plugins.outputs[].kinesis`).
  class PluginMetrics
    NAMESPACE = :kinesis
    # Reading the engine's totals parses JSON; do it at most this often...
    ENGINE_REFRESH_MS = 1000
    # ...and, as the JSON grows with streams and shards, keep its cost under 1/20 of the time.
    ENGINE_REFRESH_COST_SHARE = 20

    def initialize(metric)
      @metric = metric.namespace(NAMESPACE)
      @refresh_lock = Mutex.new
      @next_engine_refresh = 0
      @metric.gauge(:events_pending, 0)
      @metric.gauge(:bytes_pending, 0)
    end

    # Events Kinesis accepted, and their bytes (partition key plus data).
    def delivered(events, bytes)
      increment(:events_delivered, events)
      increment(:bytes_delivered, bytes)
    end

    # Events that failed for good (dead-lettered or dropped).
    def failed(events)
      increment(:events_failed, events)
    end

    # Failed events written to the dead letter queue.
    def dead_lettered(events)
      increment(:events_dead_lettered, events)
    end

    # Failed events that could only be logged.
    def dropped(events)
      increment(:events_dropped, events)
    end

    # Events that needed more than one attempt.
    def retried(events)
      increment(:events_retried, events)
    end

    # Events of batches handed back to Logstash at shutdown (replayed later).
    def handed_back(events)
      increment(:events_handed_back, events)
    end

    # Updates the gauges from the producer: pending always, engine totals at most once a second.
    def refresh(producer)
      records, bytes, = producer.outstanding
      @metric.gauge(:events_pending, records)
      @metric.gauge(:bytes_pending, bytes)
      refresh_engine_totals(producer)
    end

    # Reads the engine totals now (at close).
    def refresh_engine_totals(producer, force = false)
      return unless @refresh_lock.try_lock
      begin
        now = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
        return if !force && now < @next_engine_refresh
        totals = producer.metrics
        cost = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond) - now
        @next_engine_refresh = now + [ENGINE_REFRESH_MS, cost * ENGINE_REFRESH_COST_SHARE].max
        @metric.gauge(:kinesis_records, total(totals, "KinesisRecordsPut", "sum"))
        @metric.gauge(:kinesis_requests, total(totals, "RequestTime", "count"))
      ensure
        @refresh_lock.unlock
      end
    end

    private

    def increment(key, count)
      @metric.increment(key, count) if count > 0
    end

    def total(totals, metric, statistic)
      series = totals[metric]
      series ? series[statistic].to_i : 0
    end
  end
end
