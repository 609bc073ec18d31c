# encoding: utf-8
# The Logstash-facing flow: batches in, records to the producer, outcomes to metrics and the
# dead letter queue.
RSpec.describe LogStash::Outputs::Kinesis, "delivery" do
  def run_in_thread(&block)
    Thread.new do
      Thread.current.report_on_exception = false
      block.call
    end
  end

  describe "payloads and keys" do
    it "sends the json codec's bytes unchanged, with the partition key and stream" do
      plugin = registered_plugin("event_partition_keys" => ["[user]"])
      events = [event("user" => "alice", "n" => 1), event("n" => 2)]
      plugin.multi_receive(events)
      expect(producer.records.map(&:payload)).to eq(events.map(&:to_json))
      expect(producer.records.map(&:partition_key)).to eq(["-alice", "-"])
      expect(producer.records.map(&:stream)).to eq(["logs", "logs"])
      expect(producer.records.map(&:payload).join).not_to include("@metadata")
    end

    it "resolves the partition key before encoding, so codecs can use [@metadata][partition_key]" do
      codec = LogStash::Codecs::Plain.new("format" => "%{[@metadata][partition_key]}|%{message}")
      plugin = registered_plugin("codec" => codec, "event_partition_keys" => ["[user]"])
      plugin.multi_receive([event("user" => "dave")])
      expect(producer.records.first.payload).to eq("-dave|hello")
    end

    it "also takes already encoded pairs through multi_receive_encoded" do
      plugin = registered_plugin("explicit_hash_key" => "%{ehk}")
      first = event("ehk" => "170141183460469231731687303715884105728")
      plugin.multi_receive_encoded([[first, "raw-1"], [event, "raw-2"]])
      expect(producer.records.map(&:payload)).to eq(["raw-1", "raw-2"])
      expect(producer.records.map(&:explicit_hash_key)).to eq(["170141183460469231731687303715884105728", nil])
      expect(first.get("[@metadata][partition_key]")).to eq("-")
    end

    it "sends each event to its own stream" do
      plugin = registered_plugin("stream_name" => "%{app}-logs")
      plugin.multi_receive([event("app" => "a"), event("app" => "b"), event("app" => "a")])
      expect(producer.records.map(&:stream)).to eq(["a-logs", "b-logs", "a-logs"])
      expect(producer.batch_count).to eq(1)
    end

    it "takes empty batches without calling the producer" do
      plugin = registered_plugin
      plugin.multi_receive([])
      plugin.multi_receive_encoded([])
      expect(producer.batch_count).to eq(0)
    end
  end

  describe "at_least_once (default)" do
    it "returns only when every record of the batch has an outcome" do
      plugin = registered_plugin
      producer.hold!
      worker = run_in_thread { plugin.multi_receive([event, event]) }
      sleep 0.4
      expect(worker).to be_alive
      expect(plugin_metric(:events_delivered)).to be_nil
      producer.complete_held!
      expect(worker.join(5)).to be(worker)
      expect(plugin_metric(:events_delivered)).to eq(2)
      expect(producer.released_all?).to be(true)
    end

    it "sends each batch at once instead of waiting record_max_buffered_time" do
      plugin = registered_plugin("stream_name" => "%{app}")
      plugin.multi_receive([event("app" => "a"), event("app" => "b")])
      expect(producer.flushes).to eq(["a", "b"])
    end

    it "is safe with many pipeline workers at once, with records completing in the background" do
      plugin = registered_plugin("max_pending_records" => 50, "randomized_partition_key" => true)
      producer.respond_with { |record| record.payload.include?("\"fail\":true") ? [false, 2, "InternalFailure", "x"] : [true, 1, nil, nil] }
      producer.hold!
      running = true
      completer = run_in_thread do
        while running
          producer.complete_held!(20)
          sleep 0.001
        end
      end
      workers = Array.new(8) do |w|
        run_in_thread do
          5.times do |b|
            plugin.multi_receive(Array.new(10) { |i| event("w" => w, "b" => b, "i" => i, "fail" => i.zero?) })
          end
        end
      end
      workers.each { |worker| expect(worker.join(30)).to be(worker) }
      running = false
      completer.join
      expect(producer.records.size).to eq(8 * 5 * 10)
      payloads = producer.records.map { |r| JSON.parse(r.payload).values_at("w", "b", "i") }
      expect(payloads.uniq.size).to eq(8 * 5 * 10)
      expect(plugin_metric(:events_delivered)).to eq(8 * 5 * 9)
      expect(plugin_metric(:events_failed)).to eq(8 * 5)
      expect(producer.released_all?).to be(true)
      expect(producer.pending_count).to eq(0)
      blocked = log_lines(:warn).count { |line| line.message == LogStash::Outputs::Kinesis::Backpressure::BLOCKING_MESSAGE }
      unblocked = log_lines(:info).count { |line| line.message == LogStash::Outputs::Kinesis::Backpressure::UNBLOCKED_MESSAGE }
      expect(blocked).to eq(unblocked)
    end
  end

  describe "failures" do
    it "go to the dead letter queue with a reason naming the cause, and are counted" do
      plugin = registered_plugin({}, dlq: true)
      producer.respond_with do |record|
        if record.payload.include?("bad")
          [false, 3, "ResourceNotFoundException", "Stream logs under account 1 not found."]
        else
          [true, 1, nil, nil]
        end
      end
      plugin.multi_receive([event("message" => "bad"), event("message" => "good")])
      expect(dead_letters.size).to eq(1)
      entry = dead_letters.first
      expect(entry.event["message"]).to eq("bad")
      expect(entry.reason).to eq('Not delivered to Kinesis: ResourceNotFoundException: Stream logs under account 1 not found. ' \
                                 '(stream "logs", 3 attempts)')
      expect(entry.plugin_type).to eq("output")
      expect(plugin_metric(:events_failed)).to eq(1)
      expect(plugin_metric(:events_dead_lettered)).to eq(1)
      expect(plugin_metric(:events_dropped)).to be_nil
      expect(plugin_metric(:events_delivered)).to eq(1)
      expect(log_lines(:error)).to be_empty
    end

    it "are logged at ERROR with the reason, and counted, when the dead letter queue is off" do
      plugin = registered_plugin
      producer.respond_with { [false, 12, "Expired", "record_ttl passed; last error: ProvisionedThroughputExceededException"] }
      plugin.multi_receive([event, event])
      errors = log_lines(:error)
      expect(errors.size).to eq(2)
      expect(errors.first.message).to include("dead letter queue is off")
      expect(errors.first.data[:reason]).to include("Expired", "record_ttl passed", "12 attempts")
      expect(errors.first.data[:stream]).to eq("logs")
      expect(plugin_metric(:events_failed)).to eq(2)
      expect(plugin_metric(:events_dropped)).to eq(2)
      expect(plugin_metric(:events_dead_lettered)).to be_nil
    end

    it "include records refused before sending: too large, bad explicit hash key" do
      plugin = registered_plugin({ "explicit_hash_key" => "%{ehk}" }, dlq: true)
      big = event("message" => "x" * (1024 * 1024))
      bad_key = event("ehk" => "not-a-number")
      plugin.multi_receive([big, bad_key, event])
      reasons = dead_letters.map(&:reason)
      expect(reasons.size).to eq(2)
      expect(reasons).to include(a_string_including("InvalidExplicitHashKey"))
      expect(reasons).to include(a_string_matching(/event is \d+ bytes encoded .*max_record_size \(1048576\)/))
      expect(plugin_metric(:events_delivered)).to eq(1)
    end

    it "refuse an oversized event before the producer sees it, naming max_record_size" do
      plugin = registered_plugin({ "max_record_size" => "2 MiB" }, dlq: true)
      fits = event("message" => "x" * (1024 * 1024 + 10))
      big = event("message" => "x" * (2 * 1024 * 1024))
      plugin.multi_receive([fits, big])
      expect(producer.records.size).to eq(1)
      expect(dead_letters.map(&:reason)).to match([a_string_including("max_record_size (2097152)")])
    end

    it "dead-letter a partition key over 256 characters instead of cutting it; the rest goes on" do
      plugin = registered_plugin({ "event_partition_keys" => ["[k]"] }, dlq: true)
      plugin.multi_receive([event("k" => "a"), event("k" => "b" * 300), event("k" => "c")])
      expect(producer.records.map(&:partition_key)).to eq(["-a", "-c"])
      expect(dead_letters.size).to eq(1)
      expect(dead_letters.first.reason).to include('event_partition_keys field "[k]"', "301 characters", "256")
    end

    it "never send an event to an unresolved stream name: it is dead-lettered and the rest goes on" do
      plugin = registered_plugin({ "stream_name" => "%{[app][name]}-logs" }, dlq: true)
      plugin.multi_receive([event("app" => { "name" => "web" }), event, event("app" => { "name" => "db" })])
      expect(producer.records.map(&:stream)).to eq(["web-logs", "db-logs"])
      expect(dead_letters.size).to eq(1)
      expect(dead_letters.first.reason).to include("stream_name", "%{[app][name]}")
      expect(plugin_metric(:events_failed)).to eq(1)
      expect(plugin_metric(:events_delivered)).to eq(2)
    end

    it "log and count an unresolved stream name when the dead letter queue is off" do
      plugin = registered_plugin("stream_name" => "%{app}")
      plugin.multi_receive([event])
      expect(producer.records).to be_empty
      expect(log_lines(:error).map { |line| line.data[:reason] }.join).to include("%{app}")
      expect(plugin_metric(:events_dropped)).to eq(1)
    end

    it "are still logged and counted when writing the dead letter fails" do
      plugin = registered_plugin({}, dlq: true)
      allow(plugin.execution_context.dlq_writer).to receive(:write).and_raise(IOError, "queue full")
      producer.respond_with { [false, 1, "AccessDeniedException", "denied"] }
      plugin.multi_receive([event])
      expect(log_lines(:error).first.data).to include(:dead_letter_queue_error => "queue full")
      expect(plugin_metric(:events_dropped)).to eq(1)
      expect(plugin_metric(:events_failed)).to eq(1)
    end
  end

  describe "at_most_once" do
    it "returns once the producer holds the records, and settles failures in the background" do
      plugin = registered_plugin({ "delivery" => "at_most_once" }, dlq: true)
      producer.hold!
      producer.respond_with { [false, 5, "InternalFailure", "try later"] }
      worker = run_in_thread { plugin.multi_receive([event, event]) }
      expect(worker.join(5)).to be(worker)
      expect(producer.flushes).to be_empty
      expect(dead_letters).to be_empty
      producer.complete_held!
      eventually { dead_letters.size == 2 }
      expect(dead_letters.first.reason).to include("InternalFailure", "5 attempts")
      eventually { producer.released_all? }
      expect(plugin_metric(:events_failed)).to eq(2)
    end

    it "fails records still pending at close (ProducerClosed): dead-lettered, never silent" do
      plugin = registered_plugin({ "delivery" => "at_most_once" }, dlq: true)
      producer.hold!
      plugin.multi_receive([event, event, event])
      plugin.do_close
      expect(dead_letters.map(&:reason)).to all(include("ProducerClosed"))
      expect(dead_letters.size).to eq(3)
      expect(log_lines(:warn).map(&:message).join).to include("before every record had an outcome")
      expect(producer.released_all?).to be(true)
    end
  end

  describe "metrics" do
    it "counts delivered events and bytes, retries, and reads pending and engine totals" do
      plugin = registered_plugin
      producer.respond_with { |record| [true, record.payload.include?("slow") ? 3 : 1, nil, nil] }
      events = [event("message" => "slow"), event("message" => "fast")]
      plugin.multi_receive(events)
      bytes = events.map { |e| e.to_json.bytesize + 1 }.reduce(:+)
      expect(plugin_metric(:events_delivered)).to eq(2)
      expect(plugin_metric(:bytes_delivered)).to eq(bytes)
      expect(plugin_metric(:events_retried)).to eq(1)
      expect(plugin_metric(:events_pending)).to eq(0)
      expect(plugin_metric(:bytes_pending)).to eq(0)
      expect(plugin_metric(:kinesis_records)).to eq(2)
      expect(plugin_metric(:kinesis_requests)).to eq(1)
    end

    it "keeps the pending gauges fresh while a batch waits for Kinesis" do
      plugin = registered_plugin
      producer.hold!
      worker = run_in_thread { plugin.multi_receive([event, event]) }
      eventually { plugin_metric(:events_pending) == 2 }
      producer.complete_held!
      worker.join
      expect(plugin_metric(:events_pending)).to eq(0)
    end

    it "reads the engine totals less often when reading them is slow (many streams and shards)" do
      plugin = registered_plugin
      calls = 0
      allow(producer).to receive(:metrics).and_wrap_original do |original|
        calls += 1
        sleep 0.06 # 60 ms a read: at most one read per 1.2 s
        original.call
      end
      plugin.multi_receive([event])
      sleep 1.05
      plugin.multi_receive([event])
      expect(calls).to eq(1)
    end

    it "shows pending events while the producer holds them" do
      plugin = registered_plugin("delivery" => "at_most_once")
      producer.hold!
      plugin.multi_receive([event, event, event])
      expect(plugin_metric(:events_pending)).to eq(3)
      expect(plugin_metric(:bytes_pending)).to be > 0
    end

    it "reads the engine totals at most once a second" do
      plugin = registered_plugin
      calls = 0
      allow(producer).to receive(:metrics).and_wrap_original { |original| calls += 1; original.call }
      3.times { plugin.multi_receive([event]) }
      expect(calls).to eq(1)
      expect(plugin_metric(:kinesis_records)).to eq(1)
    end
  end

  describe "close" do
    # The drain before closing uses up a little of the deadline (a millisecond may tick over).
    def expect_close_deadline(ms)
      expect(producer.close_timeouts.size).to eq(1)
      expect(producer.close_timeouts.first).to be_between(ms - 100, ms)
    end

    it "closes the producer exactly once, with a deadline" do
      plugin = registered_plugin
      plugin.do_close
      plugin.do_close
      expect(producer.close_calls).to eq(1)
      expect_close_deadline(6000 + 1000)
    end

    it "waits up to record_ttl for at_most_once records, at most a minute" do
      registered_plugin("delivery" => "at_most_once").do_close
      expect_close_deadline(30_000 + 1000)
      registered_plugin("delivery" => "at_most_once", "record_ttl" => 600_000).do_close
      expect_close_deadline(60_000)
    end

    it "drains before reading the final totals, so records sent during close are counted" do
      plugin = registered_plugin("delivery" => "at_most_once")
      producer.hold!
      plugin.multi_receive([event, event])
      Thread.new do
        sleep 0.2
        producer.complete_held!
      end
      plugin.do_close
      expect(plugin_metric(:kinesis_records)).to eq(2)
      expect(producer.flushes).to include(nil)
      expect(producer.close_calls).to eq(1)
    end

    it "frees the producer even when its final totals cannot be read" do
      plugin = registered_plugin
      allow(producer).to receive(:metrics).and_raise(LogStash::Outputs::Kinesis::Producer::Failure, "broken")
      plugin.do_close
      expect(producer.close_calls).to eq(1)
    end

    it "does nothing when register never ran or failed" do
      expect { new_plugin.do_close }.not_to raise_error
      failed = new_plugin("collection_max_count" => 0)
      expect { failed.register }.to raise_error(LogStash::ConfigurationError)
      expect { failed.do_close }.not_to raise_error
    end

    it "stops the background thread of at_most_once" do
      before = Thread.list.size
      plugin = registered_plugin("delivery" => "at_most_once")
      expect(Thread.list.size).to eq(before + 1)
      plugin.do_close
      expect(Thread.list.size).to eq(before)
    end
  end
end
