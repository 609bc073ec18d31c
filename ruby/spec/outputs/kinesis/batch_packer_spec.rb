# encoding: utf-8
# Records packed into the arrays of NativeProducer#submit, read back the way the bridge reads them.
RSpec.describe LogStash::Outputs::Kinesis::BatchPacker do
  def record(stream, key, payload, hash_key = nil)
    route = LogStash::Outputs::Kinesis::EventRouting::Route.new(stream, key, hash_key, nil)
    LogStash::Outputs::Kinesis::Record.new(LogStash::Event.new, route, payload)
  end

  it "packs one stream without a stream index" do
    packed = described_class.pack([record("s", "-a", "one"), record("s", "-b", "two")])
    expect(packed.streams.to_a).to eq(["s"])
    expect(packed.stream_index).to be_nil
    expect(packed.explicit_hash_keys).to be_nil
    expect(packed.count).to eq(2)
    back = FakeProducer.unpack(packed)
    expect(back.map(&:to_a)).to eq([["s", "-a", nil, "one"], ["s", "-b", nil, "two"]])
  end

  it "indexes several streams, each named once" do
    records = [record("a", "k1", "1"), record("b", "k2", "2"), record("a", "k3", "3")]
    packed = described_class.pack(records)
    expect(packed.streams.to_a).to eq(["a", "b"])
    expect(packed.stream_index.to_a).to eq([0, 1, 0])
    expect(FakeProducer.unpack(packed).map(&:stream)).to eq(["a", "b", "a"])
  end

  it "builds Java arrays of the bridge's types" do
    packed = described_class.pack([record("a", "k", "p"), record("b", "k", "p", "7")])
    expect(packed.keys).to be_a(Java::byte[])
    expect(packed.payloads).to be_a(Java::byte[])
    expect(packed.key_lengths).to be_a(Java::int[])
    expect(packed.payload_lengths).to be_a(Java::int[])
    expect(packed.stream_index).to be_a(Java::int[])
    expect(packed.streams).to be_a(Java::java.lang.String[])
    expect(packed.explicit_hash_keys).to be_a(Java::java.lang.String[])
  end

  it "measures keys and payloads in bytes, with UTF-8 keys" do
    packed = described_class.pack([record("s", "-é€", "ü"), record("s", "-x", "")])
    expect(packed.key_lengths.to_a).to eq([1 + 2 + 3, 2])
    expect(packed.payload_lengths.to_a).to eq([2, 0])
    back = FakeProducer.unpack(packed)
    expect(back.map(&:partition_key)).to eq(["-é€", "-x"])
    expect(back.first.payload.force_encoding(Encoding::UTF_8)).to eq("ü")
  end

  it "copies payload bytes unchanged whatever their encoding" do
    binary = "\xFF\x00\xC3".b
    latin = "caf\xE9".force_encoding(Encoding::ISO_8859_1)
    packed = described_class.pack([record("s", "k", "é"), record("s", "k", binary), record("s", "k", latin)])
    payloads = FakeProducer.unpack(packed).map(&:payload)
    expect(payloads.map(&:b)).to eq(["é".b, binary, "caf\xE9".b])
  end

  it "turns keys that are not valid UTF-8 into valid UTF-8" do
    packed = described_class.pack([record("s", "-\xFFok".dup.force_encoding(Encoding::UTF_8), "p"),
                                   record("s", "-\xE9".dup.force_encoding(Encoding::ISO_8859_1), "p")])
    keys = FakeProducer.unpack(packed).map(&:partition_key)
    expect(keys).to all(satisfy(&:valid_encoding?))
    expect(keys).to eq(["-\uFFFDok", "-é"])
  end

  it "passes explicit hash keys where set and null elsewhere" do
    packed = described_class.pack([record("s", "k", "p"), record("s", "k", "p", "123")])
    expect(packed.explicit_hash_keys.to_a).to eq([nil, "123"])
  end

  it "records the size Kinesis counts: partition key plus data" do
    expect(record("s", "-é", "abc").size).to eq(3 + 3)
  end
end
