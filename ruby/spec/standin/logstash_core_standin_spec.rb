# encoding: utf-8
# The stand-in must behave like logstash-core (see its README), or the plugin specs prove nothing.
RSpec.describe "logstash-core stand-in" do
  let(:plugin_class) do
    Class.new(LogStash::Outputs::Base) do
      def self.name
        "LogStash::Outputs::Probe"
      end
      config_name "probe"
      config :count, :validate => :number, :default => 3
      config :flag, :validate => :boolean, :default => false
      config :list, :validate => :array, :default => []
      config :secret, :validate => :password
      config :size, :validate => :bytes, :default => 10
      config :mode, :validate => ["a", "b"], :default => "a"
      config :name, :validate => :string, :required => true
      config :old, :validate => :string, :deprecated => "use name"
      config :gone, :validate => :string, :obsolete => "removed"

      attr_reader :received

      def multi_receive_encoded(pairs)
        (@received ||= []) << pairs
      end
    end
  end

  def probe(params = {})
    plugin_class.new({ "name" => "x" }.merge(params))
  end

  describe "config" do
    it "coerces strings to numbers and booleans, scalars to arrays" do
      plugin = probe("count" => "25", "flag" => "true", "list" => "one")
      expect([plugin.count, plugin.flag, plugin.list]).to eq([25, true, ["one"]])
      expect(probe("count" => "2.5").count).to eq(2.5)
    end

    it "applies defaults and keeps params string-keyed" do
      plugin = probe
      expect([plugin.count, plugin.flag, plugin.list, plugin.mode]).to eq([3, false, [], "a"])
      expect(plugin.params.keys).to all(be_a(String))
    end

    it "wraps passwords so that printing shows <password>" do
      plugin = probe("secret" => "hunter2")
      expect(plugin.secret.value).to eq("hunter2")
      expect(plugin.secret.to_s).to eq("<password>")
      expect(plugin.secret.inspect).to eq("<password>")
      expect(plugin.inspect).not_to include("hunter2")
    end

    it "parses byte sizes" do
      expect(probe("size" => "10 MiB").size).to eq(10 * 1024 * 1024)
      expect(probe("size" => "2kb").size).to eq(2000)
      expect(probe("size" => 77).size).to eq(77)
    end

    it "raises ConfigurationError from new on unknown, missing, obsolete and invalid options" do
      expect { probe("nope" => 1) }.to raise_error(LogStash::ConfigurationError)
      expect { plugin_class.new({}) }.to raise_error(LogStash::ConfigurationError)
      expect { probe("gone" => "x") }.to raise_error(LogStash::ConfigurationError)
      expect { probe("count" => "many") }.to raise_error(LogStash::ConfigurationError)
      expect { probe("flag" => "yes") }.to raise_error(LogStash::ConfigurationError)
      expect { probe("mode" => "c") }.to raise_error(LogStash::ConfigurationError)
      expect { probe("size" => "lots") }.to raise_error(LogStash::ConfigurationError)
      expect { probe("name" => 5) }.to raise_error(LogStash::ConfigurationError)
    end

    it "only warns for deprecated options" do
      plugin = probe("old" => "y")
      expect(plugin.old).to eq("y")
      warnings = LogStash::Logging::Logger.named("logstash.outputs.probe").lines.select { |l| l.level == :warn }
      expect(warnings.map(&:message).join).to include("deprecated")
    end

    it "substitutes ${VAR} and ${VAR:default}" do
      ENV["KINESIS_STANDIN_VAR"] = "from-env"
      expect(probe("name" => "${KINESIS_STANDIN_VAR}").name).to eq("from-env")
      expect(probe("name" => "${KINESIS_STANDIN_UNSET:fallback}").name).to eq("fallback")
      expect { probe("name" => "${KINESIS_STANDIN_UNSET}") }.to raise_error(LogStash::ConfigurationError)
    ensure
      ENV.delete("KINESIS_STANDIN_VAR")
    end
  end

  describe "outputs" do
    it "encodes with the codec and passes [[event, String], ...] to multi_receive_encoded" do
      plugin = probe("codec" => "json")
      events = [LogStash::Event.new("message" => "m", "@metadata" => { "k" => "v" })]
      plugin.multi_receive(events)
      pairs = plugin.received.first
      expect(pairs.first.first).to be(events.first)
      expect(pairs.first.last).to eq(events.first.to_json)
      expect(pairs.first.last).not_to include("@metadata")
      expect(pairs.first.last).not_to end_with("\n")
    end

    it "takes empty batches" do
      plugin = probe
      plugin.multi_receive([])
      expect(plugin.received).to eq([[]])
    end

    it "gives a null metric before metric= and the set one after" do
      plugin = probe
      expect { plugin.metric.namespace(:a).increment(:b) }.not_to raise_error
      collector = LogStash::Instrument::Collector.new
      plugin.metric = LogStash::Instrument::NamespacedMetric.new(collector, [:p])
      plugin.metric.namespace(:a).increment(:b, 2)
      plugin.metric.namespace(:a).gauge(:g, 7)
      expect(collector.value(:p, :a, :b)).to eq(2)
      expect(collector.value(:p, :a, :g)).to eq(7)
    end

    it "names the logger after the class and takes only String messages" do
      logger = probe.logger
      expect(logger.name).to eq("logstash.outputs.probe")
      expect { logger.warn(:symbol) }.to raise_error(ArgumentError)
      expect { logger.warn("fine", :key => 1) }.not_to raise_error
    end

    it "has a DLQ writer with a nil inner writer when the DLQ is off, and String reasons" do
      off = LogStash::DeadLetterQueueWriter.new(nil)
      expect(off.inner_writer).to be_nil
      off.write(LogStash::Event.new, "reason")
      queue = LogStash::DeadLetterQueue.new
      on = LogStash::DeadLetterQueueWriter.new(queue)
      on.write(LogStash::Event.new("message" => "m"), "why")
      expect(queue.entries.map(&:reason)).to eq(["why"])
      expect { on.write(LogStash::Event.new, :why) }.to raise_error(TypeError)
    end

    it "reports pipeline shutdown through pipeline_shutdown_requested?" do
      plugin = probe
      expect(plugin.pipeline_shutdown_requested?).to be(false)
      plugin.execution_context.pipeline.request_shutdown!
      expect(plugin.pipeline_shutdown_requested?).to be(true)
    end

    it "has org.logstash.execution.AbortedBatchException on the class path" do
      expect(Java::OrgLogstashExecution::AbortedBatchException.new).to be_a(java.lang.RuntimeException)
    end
  end

  describe LogStash::Event do
    let(:event) do
      LogStash::Event.new("message" => "m", "n" => 42, "list" => ["a", 1], "h" => { "k" => "v" },
                          "nested" => { "x" => { "y" => "deep" } },
                          "@timestamp" => "2024-03-05T06:07:08.009Z")
    end

    it "reads, sets, checks and removes field references" do
      expect(event.get("[nested][x][y]")).to eq("deep")
      expect(event.get("n")).to eq(42)
      event.set("[a][b]", 1)
      expect(event.get("[a][b]")).to eq(1)
      expect(event.include?("[a][b]")).to be(true)
      expect(event.remove("[a][b]")).to eq(1)
      expect(event.include?("[a][b]")).to be(false)
    end

    it "keeps @metadata out of to_hash and to_json" do
      event.set("[@metadata][partition_key]", "pk")
      expect(event.get("[@metadata][partition_key]")).to eq("pk")
      expect(event.to_hash).not_to have_key("@metadata")
      expect(event.to_json).not_to include("pk")
      expect(JSON.parse(event.to_json)["@timestamp"]).to eq("2024-03-05T06:07:08.009Z")
    end

    it "sprintf formats values and leaves missing references literally" do
      expect(event.sprintf("%{message}-%{n}")).to eq("m-42")
      expect(event.sprintf("%{list}")).to eq("a,1")
      expect(event.sprintf("%{h}")).to eq('{"k":"v"}')
      expect(event.sprintf("%{[nested][x][y]}")).to eq("deep")
      expect(event.sprintf("logs-%{missing}")).to eq("logs-%{missing}")
      expect(event.sprintf("%{+YYYY.MM.dd}")).to eq("2024.03.05")
      expect(event.sprintf("%{+%s}")).to eq(Time.utc(2024, 3, 5, 6, 7, 8).to_i.to_s)
    end

    it "has a timestamp and tags" do
      expect(event.timestamp).to be_a(LogStash::Timestamp)
      event.tag("t")
      event.tag("t")
      expect(event.get("tags")).to eq(["t"])
    end
  end
end
