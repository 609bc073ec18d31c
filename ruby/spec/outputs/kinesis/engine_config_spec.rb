# encoding: utf-8
# The engine's JSON configuration built from the plugin's options.
RSpec.describe LogStash::Outputs::Kinesis::EngineConfig do
  engine_config_rs = File.expand_path("../../../../crates/kinesis-producer/src/config.rs", __dir__)
  define_singleton_method(:engine_config_rs) { engine_config_rs }
  let(:secret_access) { "AKIAENGINESPECKEY" }
  let(:secret_value) { "wJalrXUtnFEMI/engine/spec/secret" }

  # The options! table of config.rs: name => [min, max] (nil for options without a range).
  def self.engine_table
    source = File.read(engine_config_rs)
    constants = {}
    source.scan(/^\s*(?:pub )?const (\w+): u64 = ([^;]+);/) { |name, expr| constants[name] = rust_value(expr, constants) }
    body = source[/^options! \{\n(.*?)^\}/m, 1] or raise "options! table not found in #{engine_config_rs}"
    table = {}
    body.scan(/^\s*(\w+): [^=]+? = .+?(?:, range\((.+?), (.+?)\))?;$/) do |name, min, max|
      table[name] = min ? [rust_value(min, constants), rust_value(max, constants)] : nil
    end
    table
  end

  # Evaluates the constant expressions config.rs uses (numbers, names, *, <<, i64::MAX as u64).
  def self.rust_value(expr, constants)
    expr = expr.strip
    return 2**63 - 1 if expr == "i64::MAX as u64"
    return expr.split("<<", 2).map { |part| rust_value(part, constants) }.reduce(:<<) if expr.include?("<<")
    return expr.split("*").map { |part| rust_value(part, constants) }.reduce(:*) if expr.include?("*")
    return Integer(expr.delete("_")) if expr =~ /\A[\d_]+\z/
    constants.fetch(expr)
  end

  let(:engine_table) { self.class.engine_table }

  def engine_json(params = {})
    registered_plugin(params)
    producer.config
  end

  describe "kept in step with the engine (crates/kinesis-producer/src/config.rs)" do
    it "the fake producer knows exactly the engine's options" do
      expect(engine_table.keys).to eq(FakeProducer::ENGINE_OPTIONS)
    end

    it "every engine option is either passed or deliberately ignored" do
      passed = described_class::SAME_NAME + described_class::RENAMED.values + described_class::SECRETS
      expect(passed + described_class::IGNORED.keys).to match_array(engine_table.keys)
      expect(passed & described_class::IGNORED.keys).to be_empty
    end

    it "numeric options share the engine's ranges, except the plugin's own max_record_size" do
      described_class::RANGES.each do |plugin_name, range|
        next if plugin_name == "max_record_size"
        engine_name = described_class::RENAMED.fetch(plugin_name, plugin_name)
        expect(engine_table.fetch(engine_name)).to eq([range.first, range.last]), plugin_name
      end
      engine_min, engine_max = engine_table.fetch("max_user_record_size")
      record_range = described_class::RANGES.fetch("max_record_size")
      expect(record_range.first).to be >= engine_min
      expect(record_range.last).to eq(engine_max)
      ranged = engine_table.reject { |_, range| range.nil? }.keys
      renamed_back = described_class::RENAMED.invert
      expect(ranged.map { |name| renamed_back.fetch(name, name) }).to match_array(described_class::RANGES.keys)
    end
  end

  it "passes the KPL options, region and bounds under the engine's names, with the old gem's defaults" do
    expect(engine_json).to eq(
      "region" => "eu-west-1",
      "aggregation_enabled" => true, "aggregation_max_count" => 4_294_967_295, "aggregation_max_size" => 51_200,
      "cloudwatch_port" => 443, "collection_max_count" => 500, "collection_max_size" => 5_242_880,
      "connect_timeout" => 6000, "credentials_refresh_delay" => 5000, "fail_if_throttled" => false,
      "kinesis_port" => 443, "log_level" => "info", "max_connections" => 4,
      "metrics_granularity" => "shard", "metrics_level" => "detailed",
      "metrics_namespace" => "KinesisProducerLibrary", "metrics_upload_delay" => 60_000,
      "rate_limit" => 150, "record_max_buffered_time" => 100, "record_ttl" => 30_000,
      "request_timeout" => 6000, "verify_certificate" => true,
      "max_pending_records" => 1000, "max_pending_bytes" => 256 * 1024 * 1024,
      "max_user_record_size" => 1024 * 1024, "role_session_name" => "logstash-output-kinesis"
    )
  end

  it "passes every set value through, and max_record_size as max_user_record_size" do
    json = engine_json(
      "aggregation_enabled" => false, "aggregation_max_count" => 10, "aggregation_max_size" => 1000,
      "cloudwatch_endpoint" => "monitoring.local", "cloudwatch_port" => 4443,
      "collection_max_count" => 7, "collection_max_size" => 60_000, "connect_timeout" => 1000,
      "credentials_refresh_delay" => 42, "fail_if_throttled" => true,
      "kinesis_endpoint" => "http://127.0.0.1:4567", "kinesis_port" => 4567, "log_level" => "error",
      "max_connections" => 64, "metrics_granularity" => "stream", "metrics_level" => "none",
      "metrics_namespace" => "Mine", "metrics_upload_delay" => 5000, "rate_limit" => 80,
      "record_max_buffered_time" => 0, "record_ttl" => 120_000, "request_timeout" => 2000,
      "verify_certificate" => false, "max_pending_records" => 5000, "max_pending_bytes" => "64MiB",
      "max_record_size" => "4MiB", "region" => "us-gov-west-1"
    )
    expect(json).to include(
      "aggregation_enabled" => false, "aggregation_max_count" => 10, "aggregation_max_size" => 1000,
      "cloudwatch_endpoint" => "monitoring.local", "cloudwatch_port" => 4443,
      "collection_max_count" => 7, "collection_max_size" => 60_000, "connect_timeout" => 1000,
      "credentials_refresh_delay" => 42, "fail_if_throttled" => true,
      "kinesis_endpoint" => "http://127.0.0.1:4567", "kinesis_port" => 4567, "log_level" => "error",
      "max_connections" => 64, "metrics_granularity" => "stream", "metrics_level" => "none",
      "metrics_namespace" => "Mine", "metrics_upload_delay" => 5000, "rate_limit" => 80,
      "record_max_buffered_time" => 0, "record_ttl" => 120_000, "request_timeout" => 2000,
      "verify_certificate" => false, "max_pending_records" => 5000, "max_pending_bytes" => 64 * 1024 * 1024,
      "max_user_record_size" => 4 * 1024 * 1024, "region" => "us-gov-west-1"
    )
  end

  it "never passes plugin-only or meaningless options" do
    json = engine_json("native_executable" => "/opt/kpl", "temp_directory" => "/var/kpl", "min_connections" => 3,
                       "enable_core_dumps" => true, "event_partition_keys" => ["[a]"], "partition_key" => "%{a}",
                       "explicit_hash_key" => "%{h}", "delivery" => "at_most_once")
    expect(json.keys).to all(satisfy { |key| FakeProducer::ENGINE_OPTIONS.include?(key) })
    %w[native_executable temp_directory min_connections enable_core_dumps event_partition_keys partition_key
       explicit_hash_key delivery stream_name codec].each { |name| expect(json).not_to have_key(name) }
  end

  it "sends whole numbers as integers" do
    expect(engine_json("record_ttl" => 60_000.0)["record_ttl"]).to eql(60_000)
    expect { new_plugin("record_ttl" => 1500.5).register }.to raise_error(LogStash::ConfigurationError, /record_ttl must be a whole number/)
  end

  describe "credentials" do
    it "hands the static keys to the engine, unwrapped" do
      json = engine_json("access_key" => secret_access, "secret_key" => secret_value)
      expect(json).to include("access_key" => secret_access, "secret_key" => secret_value)
    end

    it "hands every secret option to the engine, unwrapped, and the role and transport options as set" do
      json = engine_json("access_key" => secret_access, "secret_key" => secret_value,
                         "metrics_access_key" => "AKIAMETRICSKEY", "metrics_secret_key" => "metrics/secret",
                         "external_id" => "external-id-1", "proxy" => "http://user:pw@proxy.local:3128",
                         "role_arn" => "arn:aws:iam::123456789012:role/k", "metrics_role_arn" => "arn:aws:iam::123456789012:role/m",
                         "role_session_name" => "shipper", "sts_endpoint" => "http://127.0.0.1:5000",
                         "sts_proxy_host" => "sts-proxy.local", "sts_proxy_port" => 8080, "profile" => "ops",
                         "ca_bundle" => "/etc/ssl/extra.pem")
      expect(json).to include(
        "access_key" => secret_access, "secret_key" => secret_value,
        "metrics_access_key" => "AKIAMETRICSKEY", "metrics_secret_key" => "metrics/secret",
        "external_id" => "external-id-1", "proxy" => "http://user:pw@proxy.local:3128",
        "role_arn" => "arn:aws:iam::123456789012:role/k", "metrics_role_arn" => "arn:aws:iam::123456789012:role/m",
        "role_session_name" => "shipper", "sts_endpoint" => "http://127.0.0.1:5000",
        "sts_proxy_host" => "sts-proxy.local", "sts_proxy_port" => 8080, "profile" => "ops",
        "ca_bundle" => "/etc/ssl/extra.pem"
      )
    end

    it "sends the default session name and leaves unset credential options out" do
      json = engine_json
      expect(json["role_session_name"]).to eq("logstash-output-kinesis")
      %w[access_key secret_key metrics_access_key metrics_secret_key external_id proxy role_arn metrics_role_arn
         sts_endpoint sts_proxy_host sts_proxy_port profile ca_bundle].each { |name| expect(json).not_to have_key(name) }
    end

    it "never shows them in logs or error messages, whatever happens" do
      secrets = { "access_key" => secret_access, "secret_key" => secret_value,
                  "metrics_access_key" => "AKIAMETRICSLEAK", "metrics_secret_key" => "metrics-secret-leak",
                  "external_id" => "external-id-leak", "proxy" => "http://proxyuser:proxy-pw-leak@proxy.local:3128" }
      messages = []
      bad = new_plugin(secrets.merge("collection_max_count" => 900, "role_arn" => "arn:aws:iam::1:role/r"))
      begin
        bad.register
      rescue LogStash::ConfigurationError => e
        messages << e.message
      end
      allow(LogStash::Outputs::Kinesis::Producer).to receive(:new).and_raise(
        LogStash::Outputs::Kinesis::Producer::InvalidConfig, "invalid value for option \"secret_key\": must not be empty"
      )
      begin
        new_plugin(secrets).register
      rescue LogStash::ConfigurationError => e
        messages << e.message
      end
      allow(LogStash::Outputs::Kinesis::Producer).to receive(:new) { |json| FakeProducer.create(json) }
      plugin = registered_plugin(secrets.merge("native_executable" => "/x", "stream_name" => "%{app}"))
      producer.respond_with { [false, 4, "AccessDeniedException", "not authorized"] }
      plugin.multi_receive([event("app" => "a"), event])
      plugin.do_close
      expect(messages.size).to eq(2)
      text = "#{messages.join("\n")}\n#{all_log_text}\n#{plugin.inspect}"
      expect(text).to include("collection_max_count", "secret_key", "AccessDeniedException", "%{app}")
      (secrets.values + ["proxy-pw-leak"]).each { |secret| expect(text).not_to include(secret) }
    end
  end

  it "turns an engine refusal into a ConfigurationError at register" do
    allow(LogStash::Outputs::Kinesis::Producer).to receive(:new).and_raise(
      LogStash::Outputs::Kinesis::Producer::InvalidConfig, "invalid value \"AWS/x\" for option \"metrics_namespace\""
    )
    expect { new_plugin("metrics_namespace" => "AWS/x").register }
      .to raise_error(LogStash::ConfigurationError, /Invalid kinesis output configuration: .*metrics_namespace/)
  end
end
