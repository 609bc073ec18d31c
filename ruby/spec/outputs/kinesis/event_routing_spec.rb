# encoding: utf-8
# Stream, partition key and explicit hash key of each event.
RSpec.describe LogStash::Outputs::Kinesis::EventRouting do
  let(:uuid_v4) { /\A\h{8}-\h{4}-4\h{3}-[89ab]\h{3}-\h{12}\z/ }

  def routing(options = {})
    described_class.new(**{ stream_format: "logs", stream_option: "stream_name" }.merge(options))
  end

  def key_for(fields, options = {})
    routing(options).resolve(LogStash::Event.new(fields)).partition_key
  end

  describe "partition keys as in the old gem" do
    it "is '-' without key options" do
      expect(key_for("message" => "m")).to eq("-")
      expect(routing.constant_partition_key?).to be(true)
    end

    it "is '-' + the first listed field that is present and non-empty" do
      keys = { event_partition_keys: ["[missing]", "[empty]", "[nil_value]", "[user]", "[host]"] }
      expect(key_for({ "empty" => "", "nil_value" => nil, "user" => "alice", "host" => "h1" }, keys)).to eq("-alice")
      expect(key_for({ "host" => "h1" }, keys)).to eq("-h1")
      expect(key_for({ "message" => "m" }, keys)).to eq("-")
      expect(routing(keys).constant_partition_key?).to be(false)
    end

    it "reads nested field references" do
      expect(key_for({ "host" => { "name" => "web-1" } }, event_partition_keys: ["[host][name]"])).to eq("-web-1")
      expect(key_for({ "host" => "plain" }, event_partition_keys: ["host"])).to eq("-plain")
    end

    it "turns numbers, booleans, timestamps, arrays and hashes into text instead of crashing" do
      keys = { event_partition_keys: ["[v]"] }
      {
        42 => "-42",
        -7 => "--7",
        1.5 => "-1.5",
        true => "-true",
        false => "-false",
        LogStash::Timestamp.coerce("2024-01-02T03:04:05.678Z") => "-2024-01-02T03:04:05.678Z",
        ["a", 1, true] => "-a,1,true",
        { "k" => "v", "n" => 1 } => '-{"k":"v","n":1}',
        [{ "k" => 1 }] => '-{"k":1}',
      }.each do |value, expected|
        expect(key_for({ "v" => value }, keys)).to eq(expected), "value #{value.inspect}"
      end
    end

    it "skips empty arrays and hashes like empty strings" do
      keys = { event_partition_keys: ["[a]", "[h]", "[b]"] }
      expect(key_for({ "a" => [], "h" => {}, "b" => "x" }, keys)).to eq("-x")
    end

    it "never cuts a key over Kinesis's 256 characters: the route carries a problem naming its source" do
      route = routing(event_partition_keys: ["[v]"]).resolve(LogStash::Event.new("v" => "x" * 300))
      expect(route.stream).to be_nil
      expect(route.partition_key).to eq("-" + "x" * 300)
      expect(route.problem).to eq('partition key from event_partition_keys field "[v]" has 301 characters; ' \
                                  "Kinesis takes 1 to 256")
      formatted = routing(partition_key_format: "%{v}").resolve(LogStash::Event.new("v" => "y" * 257))
      expect(formatted.problem).to include('partition_key "%{v}"', "257 characters")
    end

    it "counts characters, not bytes, against the 256 limit" do
      wide = routing(event_partition_keys: ["[v]"]).resolve(LogStash::Event.new("v" => "é" * 255))
      expect(wide.problem).to be_nil
      expect(wide.partition_key.bytesize).to eq(1 + 255 * 2)
    end

    it "is a fresh UUID v4 per event when randomized, whatever else is set" do
      options = { randomized_partition_key: true, event_partition_keys: ["[user]"], partition_key_format: "%{user}" }
      keys = Array.new(50) { key_for({ "user" => "alice" }, options) }
      expect(keys).to all(match(uuid_v4))
      expect(keys.uniq.size).to eq(50)
    end

    it "is stored in [@metadata][partition_key], which the json payload leaves out" do
      event = LogStash::Event.new("user" => "bob")
      routing(event_partition_keys: ["[user]"]).resolve(event)
      expect(event.get("[@metadata][partition_key]")).to eq("-bob")
      expect(event.to_json).not_to include("-bob")
    end
  end

  describe "partition_key format" do
    it "is used as it is, without the '-' prefix" do
      expect(key_for({ "host" => { "name" => "web-1" } }, partition_key_format: "%{[host][name]}")).to eq("web-1")
      expect(key_for({ "a" => "x", "b" => 2 }, partition_key_format: "%{a}/%{b}")).to eq("x/2")
    end

    it "falls back to the old rules when it does not resolve or is empty" do
      options = { partition_key_format: "%{[host][name]}", event_partition_keys: ["[user]"] }
      expect(key_for({ "user" => "carol" }, options)).to eq("-carol")
      expect(key_for({ "message" => "m" }, options)).to eq("-")
      expect(key_for({ "host" => { "name" => "" } }, partition_key_format: "%{[host][name]}")).to eq("-")
    end
  end

  describe "stream" do
    it "is fixed without field references" do
      route = routing.resolve(LogStash::Event.new)
      expect([route.stream, route.problem]).to eq(["logs", nil])
      expect(routing.static_stream).to eq("logs")
    end

    it "resolves field references and dates per event" do
      dynamic = routing(stream_format: "%{app}-%{+YYYY.MM}")
      event = LogStash::Event.new("app" => "billing", "@timestamp" => "2024-06-30T23:00:00.000Z")
      expect(dynamic.resolve(event).stream).to eq("billing-2024.06")
      expect(dynamic.static_stream).to be_nil
    end

    it "never becomes a name with an unresolved reference: the route carries the problem instead" do
      route = routing(stream_format: "%{app}-%{env}").resolve(LogStash::Event.new("env" => "prod"))
      expect(route.stream).to be_nil
      expect(route.problem).to include("stream_name", "%{app}")
      expect(route.problem).not_to include("%{env},")
      expect(route.partition_key).to eq("-")
    end

    it "names stream_arn in the problem when the ARN is the format" do
      arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/%{app}"
      route = routing(stream_format: arn, stream_option: "stream_arn").resolve(LogStash::Event.new)
      expect(route.problem).to start_with("stream_arn")
    end

    it "refuses an empty name" do
      route = routing(stream_format: "%{app}").resolve(LogStash::Event.new("app" => ""))
      expect(route.problem).to include("empty")
    end
  end

  describe "explicit hash key" do
    it "is the formatted value, or nil when it does not resolve or is empty" do
      options = { explicit_hash_key_format: "%{ehk}" }
      expect(routing(options).resolve(LogStash::Event.new("ehk" => 12_345)).explicit_hash_key).to eq("12345")
      expect(routing(options).resolve(LogStash::Event.new).explicit_hash_key).to be_nil
      expect(routing(options).resolve(LogStash::Event.new("ehk" => "")).explicit_hash_key).to be_nil
      expect(routing.resolve(LogStash::Event.new("ehk" => "1")).explicit_hash_key).to be_nil
    end
  end
end
