# encoding: utf-8
# Batches still waiting for Kinesis when the pipeline shuts down.
RSpec.describe LogStash::Outputs::Kinesis, "shutdown" do
  let(:aborted) { Java::OrgLogstashExecution::AbortedBatchException }

  def in_thread(&block)
    Thread.new do
      Thread.current.report_on_exception = false
      block.call
    end
  end

  context "on Logstash 8.8+ (AbortedBatchException exists)" do
    it "hands a batch still retrying back to Logstash, unacked, after the grace period" do
      plugin = registered_plugin({ "request_timeout" => 100 }, dlq: true)
      producer.hold!
      worker = in_thread { plugin.multi_receive([event, event]) }
      sleep 0.5
      expect(worker).to be_alive
      request_shutdown(plugin)
      expect(finished?(worker)).to be(true)
      expect(raised_by(worker)).to be_a(aborted)
      expect(plugin_metric(:events_handed_back)).to eq(2)
      expect(plugin_metric(:events_delivered)).to be_nil
      expect(plugin_metric(:events_failed)).to be_nil
      expect(dead_letters).to be_empty
      expect(producer.released_all?).to be(true)
    end

    it "lets a batch that completes within the grace period finish normally" do
      plugin = registered_plugin
      producer.hold!
      worker = in_thread { plugin.multi_receive([event]) }
      request_shutdown(plugin)
      sleep 0.4
      producer.complete_held!
      expect(finished?(worker)).to be(true)
      expect(raised_by(worker)).to be_nil
      expect(plugin_metric(:events_delivered)).to eq(1)
    end

    it "hands back a batch that waits for room, without submitting it" do
      plugin = registered_plugin("delivery" => "at_most_once", "max_pending_records" => 2, "request_timeout" => 100)
      producer.hold!
      plugin.multi_receive([event, event])
      worker = in_thread { plugin.multi_receive([event]) }
      sleep 0.3
      request_shutdown(plugin)
      expect(finished?(worker)).to be(true)
      expect(raised_by(worker)).to be_a(aborted)
      expect(producer.batch_count).to eq(1)
    end

    it "finds the shutdown through the pipeline on Logstash before 8.2" do
      plugin = registered_plugin("request_timeout" => 100)
      allow(plugin).to receive(:respond_to?).and_call_original
      allow(plugin).to receive(:respond_to?).with(:pipeline_shutdown_requested?).and_return(false)
      producer.hold!
      worker = in_thread { plugin.multi_receive([event]) }
      request_shutdown(plugin)
      expect(finished?(worker)).to be(true)
      expect(raised_by(worker)).to be_a(aborted)
    end
  end

  context "on Logstash before 8.8 (no AbortedBatchException)" do
    before { allow(LogStash::Outputs::Kinesis::ShutdownSignal).to receive(:aborted_batch_exception).and_return(nil) }

    it "keeps waiting for the outcomes (record_ttl bounds them), then dead-letters the expired records" do
      plugin = registered_plugin({ "request_timeout" => 100 }, dlq: true)
      producer.hold!
      worker = in_thread { plugin.multi_receive([event, event]) }
      request_shutdown(plugin)
      sleep 0.5
      expect(worker).to be_alive
      producer.respond_with { [false, 9, "Expired", "record_ttl (30000 ms) passed"] }
      producer.complete_held!
      expect(finished?(worker)).to be(true)
      expect(raised_by(worker)).to be_nil
      expect(dead_letters.map(&:reason)).to all(include("Expired"))
      expect(dead_letters.size).to eq(2)
      expect(plugin_metric(:events_handed_back)).to be_nil
    end
  end
end
