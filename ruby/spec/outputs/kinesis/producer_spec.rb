# encoding: utf-8
# The adapter's translation of NativeProducer calls; the Java class is replaced by a double
# with the same method names.
module ProducerAdapterDoubles
  # Stands for kinesis.producer.bridge.BatchOutcomes.
  class OutcomesDouble
    def initialize(rows)
      @rows = rows
    end

    def size
      @rows.size
    end

    def allDelivered
      @rows.all? { |row| row[0] }
    end

    def isDelivered(i)
      @rows[i][0]
    end

    def attempts(i)
      @rows[i][1]
    end

    def code(i)
      @rows[i][2]
    end

    def message(i)
      @rows[i][3]
    end
  end

  # Stands for kinesis.producer.bridge.NativeProducer.
  class NativeDouble
    attr_reader :config, :calls
    attr_accessor :submit_result, :outcomes_result, :closes

    def initialize(config)
      raise java.lang.IllegalArgumentException.new("unknown option \"bogus\"") if config.include?("bogus")
      @config = config
      @calls = []
      @closes = 0
    end

    def submit(*args)
      @calls << [:submit, args]
      submit_result
    end

    def await(batch, timeout)
      raise java.lang.IllegalStateException.new("unknown batch #{batch}") if batch == 99
      @calls << [:await, batch, timeout]
      true
    end

    def outcomes(_batch)
      outcomes_result
    end

    def release(batch)
      @calls << [:release, batch]
    end

    def flush(stream)
      @calls << [:flush, stream]
    end

    def openShardCount(stream, timeout)
      raise java.lang.RuntimeException.new("could not list the shards of #{stream}: ResourceNotFoundException") if stream == "absent"
      @calls << [:open_shard_count, stream, timeout]
      4
    end

    def outstandingRecords
      3
    end

    def outstandingBytes
      300
    end

    def oldestPendingAgeMillis
      -1
    end

    def metricsJson
      '[{"metric":"KinesisRecordsPut","unit":"Count","stream":"a","shard":"s1","error_code":null,"sum":2.0,"min":1.0,"max":1.0,"count":2},' \
        '{"metric":"KinesisRecordsPut","unit":"Count","stream":"b","shard":"s2","error_code":null,"sum":3.0,"min":1.0,"max":1.0,"count":3},' \
        '{"metric":"RequestTime","unit":"Milliseconds","stream":"a","shard":null,"error_code":null,"sum":40.0,"min":10.0,"max":30.0,"count":2}]'
    end

    def close(timeout)
      @closes += 1
      raise java.lang.IllegalStateException.new("already closed") if @closes > 1
      timeout.zero? ? 0 : 5
    end
  end
end

RSpec.describe LogStash::Outputs::Kinesis::Producer do
  before do
    allow(described_class).to receive(:new).and_call_original
    allow(described_class).to receive(:bridge).and_return(ProducerAdapterDoubles::NativeDouble)
  end

  let(:adapter) { described_class.new('{"region":"eu-west-1"}') }
  let(:native) { adapter.instance_variable_get(:@native) }

  it "hands the JSON to the bridge and turns a refused configuration into InvalidConfig" do
    expect(native.config).to eq('{"region":"eu-west-1"}')
    expect { described_class.new('{"bogus":1}') }.to raise_error(described_class::InvalidConfig, /unknown option "bogus"/)
  end

  it "passes the packed arrays in the bridge's order and maps -1 to nil" do
    packed = LogStash::Outputs::Kinesis::BatchPacker::Packed.new(:s, :i, :k, :kl, :e, :p, :pl, 1)
    native.submit_result = 7
    expect(adapter.submit(packed, 250)).to eq(7)
    expect(native.calls.last).to eq([:submit, [:s, :i, :k, :kl, :e, :p, :pl, 250]])
    native.submit_result = -1
    expect(adapter.submit(packed, 0)).to be_nil
  end

  it "reads outcomes into [delivered?, attempts, code, message] rows, nil while incomplete" do
    native.outcomes_result = nil
    expect(adapter.outcomes(1)).to be_nil
    native.outcomes_result = ProducerAdapterDoubles::OutcomesDouble.new([[true, 1, nil, nil], [false, 4, "Expired", "ttl"]])
    expect(adapter.outcomes(1)).to eq([[true, 1, nil, nil], [false, 4, "Expired", "ttl"]])
    native.outcomes_result = ProducerAdapterDoubles::OutcomesDouble.new([[true, 2, nil, nil]])
    expect(adapter.outcomes(1)).to eq([[true, 2, nil, nil]])
  end

  it "reports outstanding work, with nil age when nothing is pending" do
    expect(adapter.outstanding).to eq([3, 300, nil])
  end

  it "sums the engine's metric series per metric" do
    expect(adapter.metrics).to eq("KinesisRecordsPut" => { "sum" => 5.0, "count" => 5 },
                                  "RequestTime" => { "sum" => 40.0, "count" => 2 })
  end

  it "turns Java exceptions into Producer::Failure" do
    expect { adapter.await(99, 10) }.to raise_error(described_class::Failure, /IllegalStateException: unknown batch 99/)
  end

  it "closes the native producer once; later closes do nothing" do
    expect(adapter.close(1000)).to eq(5)
    expect(adapter.close(1000)).to be_nil
    expect(native.closes).to eq(1)
  end

  it "asks the bridge for the shard count, with a bounded wait" do
    expect(adapter.shard_count("logs")).to eq(4)
    expect(native.calls.last).to eq([:open_shard_count, "logs", described_class::SHARD_COUNT_TIMEOUT_MS])
    expect { adapter.shard_count("absent") }.to raise_error(described_class::Failure, /shards of absent: ResourceNotFoundException/)
  end
end
