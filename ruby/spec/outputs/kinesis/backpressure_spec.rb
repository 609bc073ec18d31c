# encoding: utf-8
# Blocking the pipeline while the producer is full, with the old gem's log lines.
RSpec.describe LogStash::Outputs::Kinesis, "backpressure" do
  let(:blocking) { "Kinesis is too busy - blocking until things have cleared up" }
  let(:unblocked) { "Okay - I've stopped blocking now" }

  def in_thread(&block)
    Thread.new do
      Thread.current.report_on_exception = false
      block.call
    end
  end

  def events(count)
    Array.new(count) { |i| event("i" => i) }
  end

  it "blocks only until the pending count is below max_pending_records again, not until drained" do
    plugin = registered_plugin("delivery" => "at_most_once", "max_pending_records" => 10)
    producer.hold!
    plugin.multi_receive(events(10))
    second = in_thread { plugin.multi_receive(events(5)) }
    sleep 0.3
    expect(second).to be_alive
    warnings = log_lines(:warn)
    expect(warnings.map(&:message)).to eq([blocking])
    expect(warnings.first.data).to include(:pending_records => 10, :max_pending_records => 10)
    expect(log_lines(:info).map(&:message)).not_to include(unblocked)

    producer.complete_held!(5)
    expect(second.join(5)).to be(second)
    expect(producer.pending_count).to eq(10)
    expect(log_lines(:info).map(&:message)).to include(unblocked)
  end

  it "logs one WARN and one INFO per blocking spell, however many workers wait" do
    plugin = registered_plugin("delivery" => "at_most_once", "max_pending_records" => 4)
    producer.hold!
    plugin.multi_receive(events(4))
    waiting = Array.new(3) { in_thread { plugin.multi_receive(events(2)) } }
    sleep 0.3
    expect(waiting).to all(be_alive)
    producer.complete_held!
    waiting.each { |thread| expect(thread.join(5)).to be(thread) }
    expect(log_lines(:warn).map(&:message)).to eq([blocking])
    expect(log_lines(:info).map(&:message).count(unblocked)).to eq(1)
  end

  it "blocks at_least_once workers the same way" do
    plugin = registered_plugin("max_pending_records" => 3)
    producer.hold!
    first = in_thread { plugin.multi_receive(events(3)) }
    eventually { producer.pending_count == 3 }
    second = in_thread { plugin.multi_receive(events(3)) }
    sleep 0.3
    expect(log_lines(:warn).map(&:message)).to eq([blocking])
    producer.complete_held!
    [first, second].each { |thread| expect(thread.join(5)).to be(thread) }
    expect(plugin_metric(:events_delivered)).to eq(6)
  end

  it "says nothing while there is room" do
    plugin = registered_plugin("max_pending_records" => 10)
    5.times { plugin.multi_receive(events(10)) }
    expect(log_lines(:warn)).to be_empty
    expect(log_lines(:info).map(&:message)).not_to include(unblocked)
  end

  it "admits a batch larger than max_pending_records when nothing else is pending" do
    plugin = registered_plugin("max_pending_records" => 2)
    plugin.multi_receive(events(5))
    expect(plugin_metric(:events_delivered)).to eq(5)
    expect(log_lines(:warn)).to be_empty
  end
end
