# encoding: utf-8
# Every option of the KPL-based gem (5.1.2) keeps its name, type, default and validation.
RSpec.describe LogStash::Outputs::Kinesis, "options" do
  long_max = 2**63 - 1

  # name => [validate, default, inclusive range], as in the old gem and KPL.
  old_options = {
    "stream_name" => [:string, nil],
    "region" => [:string, nil],
    "event_partition_keys" => [:array, []],
    "randomized_partition_key" => [:boolean, false],
    "max_pending_records" => [:number, 1000],
    "access_key" => [:password, nil],
    "secret_key" => [:password, nil],
    "role_arn" => [:string, nil],
    "metrics_access_key" => [:password, nil],
    "metrics_secret_key" => [:password, nil],
    "metrics_role_arn" => [:string, nil],
    "sts_proxy_host" => [:string, nil],
    "sts_proxy_port" => [:number, nil, 1..65_535],
    "aggregation_enabled" => [:boolean, true],
    "aggregation_max_count" => [:number, 4_294_967_295, 1..long_max],
    "aggregation_max_size" => [:number, 51_200, 64..10_485_760],
    "cloudwatch_endpoint" => [:string, nil],
    "cloudwatch_port" => [:number, 443, 1..65_535],
    "collection_max_count" => [:number, 500, 1..500],
    "collection_max_size" => [:number, 5_242_880, 52_224..long_max],
    "connect_timeout" => [:number, 6000, 100..300_000],
    "credentials_refresh_delay" => [:number, 5000, 1..300_000],
    "enable_core_dumps" => [:boolean, false],
    "fail_if_throttled" => [:boolean, false],
    "kinesis_endpoint" => [:string, nil],
    "kinesis_port" => [:number, 443, 1..65_535],
    "log_level" => [%w[info warning error], "info"],
    "max_connections" => [:number, 4, 1..256],
    "metrics_granularity" => [%w[global stream shard], "shard"],
    "metrics_level" => [%w[none summary detailed], "detailed"],
    "metrics_namespace" => [:string, "KinesisProducerLibrary"],
    "metrics_upload_delay" => [:number, 60_000, 1..60_000],
    "min_connections" => [:number, 1, 1..16],
    "native_executable" => [:string, nil],
    "rate_limit" => [:number, 150, 1..long_max],
    "record_max_buffered_time" => [:number, 100, 0..long_max],
    "record_ttl" => [:number, 30_000, 100..long_max],
    "request_timeout" => [:number, 6000, 100..600_000],
    "temp_directory" => [:string, nil],
    "verify_certificate" => [:boolean, true],
  }.freeze

  new_options = {
    "stream_arn" => [:string, nil],
    "partition_key" => [:string, nil],
    "explicit_hash_key" => [:string, nil],
    "max_record_size" => [:bytes, 1024 * 1024],
    "max_pending_bytes" => [:bytes, 256 * 1024 * 1024],
    "delivery" => [%w[at_least_once at_most_once], "at_least_once"],
    "profile" => [:string, nil],
    "role_session_name" => [:string, "logstash-output-kinesis"],
    "external_id" => [:password, nil],
    "sts_endpoint" => [:string, nil],
    "proxy" => [:password, nil],
    "ca_bundle" => [:string, nil],
  }.freeze

  let(:declared) { LogStash::Outputs::Kinesis.get_config }

  it "is the output 'kinesis', shared across workers, with the json codec by default" do
    expect(LogStash::Outputs::Kinesis.config_name).to eq("kinesis")
    expect(LogStash::Outputs::Kinesis.concurrency).to eq(:shared)
    expect(new_plugin.codec).to be_a(LogStash::Codecs::JSON)
  end

  old_options.merge(new_options).each do |name, (validate, default, range)|
    describe name do
      it "is declared as #{validate.inspect} with default #{default.inspect}" do
        expect(declared).to have_key(name)
        expect(declared[name][:validate]).to eq(validate)
        expect(declared[name][:default]).to eq(default)
        expect(declared[name][:obsolete]).to be_nil
      end

      next unless range

      it "accepts #{range.first} to #{range.last}, also written as strings" do
        [range.first, range.last].each do |value|
          plugin = registered_plugin(name => value.to_s)
          expect(plugin.instance_variable_get("@#{name}")).to eq(value)
        end
      end

      it "fails register below #{range.first} and above #{range.last}, naming the option" do
        [range.first - 1, range.last + 1].each do |value|
          plugin = new_plugin(name => value)
          expect { plugin.register }.to raise_error(LogStash::ConfigurationError, /#{name} must be between/)
        end
      end
    end
  end

  it "requires region when the plugin is created" do
    expect { LogStash::Outputs::Kinesis.new("stream_name" => "logs") }.to raise_error(LogStash::ConfigurationError)
  end

  it "requires exactly one of stream_name and stream_arn at register" do
    no_stream = LogStash::Outputs::Kinesis.new("region" => "eu-west-1")
    expect { no_stream.register }.to raise_error(LogStash::ConfigurationError, /exactly one of stream_name and stream_arn/)
    both = new_plugin("stream_arn" => "arn:aws:kinesis:eu-west-1:123456789012:stream/logs")
    expect { both.register }.to raise_error(LogStash::ConfigurationError, /exactly one/)
    blank = new_plugin("stream_name" => " ")
    expect { blank.register }.to raise_error(LogStash::ConfigurationError, /exactly one/)
    arn_only = LogStash::Outputs::Kinesis.new("region" => "eu-west-1", "stream_arn" => "arn:aws:kinesis:eu-west-1:123456789012:stream/logs")
    expect { arn_only.register }.not_to raise_error
    arn_only.do_close
  end

  it "rejects unknown options, wrong types and values outside the enumerations when created" do
    [
      { "stream_nam" => "typo" },
      { "max_pending_records" => "lots" },
      { "aggregation_enabled" => "yes" },
      { "log_level" => "debug" },
      { "metrics_level" => "all" },
      { "metrics_granularity" => "region" },
      { "delivery" => "exactly_once" },
      { "max_record_size" => "big" },
    ].each do |params|
      expect { LogStash::Outputs::Kinesis.new(PluginHarness::MINIMAL.merge(params)) }
        .to raise_error(LogStash::ConfigurationError), params.inspect
    end
  end

  it "coerces strings like the pipeline configuration parser hands them" do
    plugin = new_plugin("aggregation_enabled" => "false", "max_pending_records" => "25",
                        "event_partition_keys" => "[host]", "max_record_size" => "2 MiB")
    expect(plugin.aggregation_enabled).to be(false)
    expect(plugin.max_pending_records).to eq(25)
    expect(plugin.event_partition_keys).to eq(["[host]"])
    expect(plugin.max_record_size).to eq(2 * 1024 * 1024)
  end

  it "keeps secrets wrapped: printing the plugin never shows them" do
    plugin = new_plugin("access_key" => "AKIAOPTIONSPEC", "secret_key" => "s3cr3t-options-spec",
                        "metrics_access_key" => "AKIAMETRICS", "metrics_secret_key" => "metrics-s3cr3t")
    text = "#{plugin} #{plugin.inspect} #{plugin.params}"
    ["AKIAOPTIONSPEC", "s3cr3t-options-spec", "AKIAMETRICS", "metrics-s3cr3t"].each do |secret|
      expect(text).not_to include(secret)
    end
    expect(plugin.secret_key.value).to eq("s3cr3t-options-spec")
  end

  describe "max_record_size and max_pending_bytes" do
    it "takes 1 MiB to 10 MiB as record size" do
      expect { registered_plugin("max_record_size" => "10MiB") }.not_to raise_error
      expect { new_plugin("max_record_size" => "1MiB").register }.not_to raise_error
      expect { new_plugin("max_record_size" => "1048575").register }.to raise_error(LogStash::ConfigurationError, /max_record_size/)
      expect { new_plugin("max_record_size" => "11MiB").register }.to raise_error(LogStash::ConfigurationError, /max_record_size/)
    end

    it "needs room for the largest record in max_pending_bytes" do
      plugin = new_plugin("max_record_size" => "4MiB", "max_pending_bytes" => "2MiB")
      expect { plugin.register }.to raise_error(LogStash::ConfigurationError, /max_pending_bytes .* must be at least max_record_size/)
    end
  end

  describe "options that lost their meaning" do
    it "are accepted and noted once at INFO, never an error" do
      plugin = registered_plugin("native_executable" => "/opt/kpl", "temp_directory" => "/tmp/kpl",
                                 "min_connections" => 2, "enable_core_dumps" => true)
      notes = log_lines(:info).select { |line| line.message.include?("no effect") }
      expect(notes.size).to eq(1)
      expect(notes.first.data[:options].join(" ")).to include("native_executable", "temp_directory", "min_connections", "enable_core_dumps")
      plugin.multi_receive([event])
      expect(log_lines(:info).count { |line| line.message.include?("no effect") }).to eq(1)
      expect(log_lines(:warn) + log_lines(:error)).to be_empty
    end

    it "are not mentioned when left at their defaults" do
      registered_plugin
      expect(log_lines(:info).map(&:message).join).not_to include("no effect")
    end
  end

  describe "credential options" do
    it "are all accepted at register, roles and proxies included" do
      plugin = registered_plugin("role_arn" => "arn:aws:iam::123456789012:role/kinesis",
                                 "metrics_role_arn" => "arn:aws:iam::123456789012:role/metrics",
                                 "role_session_name" => "shipper-1", "external_id" => "ext-id-1",
                                 "sts_endpoint" => "https://sts.eu-west-1.amazonaws.com",
                                 "sts_proxy_host" => "proxy.local", "sts_proxy_port" => 3128,
                                 "profile" => "ops", "proxy" => "http://proxy.local:3128",
                                 "ca_bundle" => "/etc/ssl/extra.pem",
                                 "metrics_access_key" => "AKIAMETRICS", "metrics_secret_key" => "metrics-secret")
      expect(plugin.role_arn).to eq("arn:aws:iam::123456789012:role/kinesis")
      expect(log_lines(:warn) + log_lines(:error)).to be_empty
    end

    {
      { "access_key" => "AKIALONE" } => "access_key is set but secret_key is not",
      { "secret_key" => "lone-secret" } => "secret_key is set but access_key is not",
      { "metrics_access_key" => "AKIALONE" } => "metrics_access_key is set but metrics_secret_key is not",
      { "metrics_secret_key" => "lone-secret" } => "metrics_secret_key is set but metrics_access_key is not",
    }.each do |params, message|
      it "a lone #{params.keys.first} fails register naming both options, never the value" do
        expect { new_plugin(params).register }.to raise_error(LogStash::ConfigurationError) { |e|
          expect(e.message).to include(message)
          expect(e.message).not_to include(params.values.first)
        }
        expect(FakeProducer.created).to be_empty
      end
    end

    it "metrics keys complete a pair field by field with the Kinesis keys" do
      [
        { "access_key" => "AKIA1", "secret_key" => "s1", "metrics_access_key" => "AKIA2" },
        { "access_key" => "AKIA1", "secret_key" => "s1", "metrics_secret_key" => "s2" },
        { "access_key" => "AKIA1", "secret_key" => "s1" },
      ].each do |params|
        expect { registered_plugin(params) }.not_to raise_error
      end
    end
  end

  describe "the single-shard warning" do
    it "is logged once at register when the constant key '-' meets a stream with several shards" do
      FakeProducer.on_create { |fake| fake.shard_counts = { "logs" => 4 } }
      registered_plugin
      warnings = log_lines(:warn).select { |line| line.message.include?("partition key \"-\"") }
      expect(warnings.size).to eq(1)
      expect(warnings.first.data).to include(:stream => "logs", :shards => 4)
    end

    it "is not logged for one shard, for other key options, or when the shard count is unknown" do
      FakeProducer.on_create { |fake| fake.shard_counts = { "logs" => 1 } }
      registered_plugin
      FakeProducer.on_create { |fake| fake.shard_counts = { "logs" => 4 } }
      registered_plugin("randomized_partition_key" => true)
      registered_plugin("event_partition_keys" => ["[host]"])
      registered_plugin("partition_key" => "%{host}")
      FakeProducer.on_create { |fake| fake.shard_counts = {} }
      registered_plugin
      expect(log_lines(:warn)).to be_empty
    end
  end

  describe "the gemspec" do
    let(:spec) { Gem::Specification.load(File.expand_path("../../../logstash-output-kinesis.gemspec", __dir__)) }

    it "is a java-platform Logstash output plugin with only the plugin API and json codec as dependencies" do
      expect(spec.name).to eq("logstash-output-kinesis")
      expect(spec.platform.to_s).to eq("java")
      expect(spec.metadata).to include("logstash_plugin" => "true", "logstash_group" => "output")
      deps = spec.runtime_dependencies.map { |dep| [dep.name, dep.requirement.to_s] }
      expect(deps).to contain_exactly(["logstash-core-plugin-api", ">= 1.60, <= 2.99"], ["logstash-codec-json", ">= 0"])
      expect(spec.files).to include("lib/logstash/outputs/kinesis.rb", "lib/logstash/outputs/kinesis/producer.rb")
    end
  end
end
