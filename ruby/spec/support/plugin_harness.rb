# encoding: utf-8

# Builds plugins the way a Logstash pipeline does (new -> metric= -> execution_context ->
# register) and reads back their logs, metrics and dead letters.
module PluginHarness
  MINIMAL = { "stream_name" => "logs", "region" => "eu-west-1" }.freeze
  PLUGIN_LOGGER = "logstash.outputs.kinesis".freeze

  # A plugin after `new` (config validated), with metric and execution context set.
  # settings: {:dlq => true} turns the dead letter queue on. (No keyword arguments here:
  # Ruby 3 would take a braceless params hash for keywords.)
  def new_plugin(params = {}, settings = {})
    dlq = settings.fetch(:dlq, false)
    plugin = LogStash::Outputs::Kinesis.new(MINIMAL.merge(params))
    @collector = LogStash::Instrument::Collector.new
    plugin.metric = LogStash::Instrument::NamespacedMetric.new(@collector, [:stats, :pipelines, :main, :plugins, :outputs, :kinesis_1])
    @dlq = dlq ? LogStash::DeadLetterQueue.new : nil
    plugin.execution_context = LogStash::ExecutionContext.new(dlq_writer: LogStash::DeadLetterQueueWriter.new(@dlq))
    (@opened_plugins ||= []) << plugin
    plugin
  end

  # A registered plugin.
  def registered_plugin(params = {}, settings = {})
    plugin = new_plugin(params, settings)
    plugin.register
    plugin
  end

  # The fake native producer the last registered plugin got.
  def producer
    FakeProducer.created.last
  end

  def event(fields = {})
    LogStash::Event.new({ "message" => "hello" }.merge(fields))
  end

  # The plugin metric at [:kinesis, key].
  def plugin_metric(key)
    @collector.value(:stats, :pipelines, :main, :plugins, :outputs, :kinesis_1, :kinesis, key)
  end

  def dead_letters
    @dlq ? @dlq.entries : []
  end

  # Lines of the plugin's logger, optionally of one level.
  def log_lines(level = nil)
    lines = LogStash::Logging::Logger.named(PLUGIN_LOGGER).lines
    level ? lines.select { |line| line.level == level } : lines
  end

  # Every line of every logger as text (messages and details), to look for leaks.
  def all_log_text
    LogStash::Logging::Logger.all.flat_map(&:lines).map { |line| "#{line.message} #{line.data.inspect} #{line.data}" }.join("\n")
  end

  def request_shutdown(plugin)
    plugin.execution_context.pipeline.request_shutdown!
  end

  # Waits until the block is true (for background threads), failing after `seconds`.
  def eventually(seconds = 5)
    deadline = Time.now + seconds
    until yield
      raise "condition not met within #{seconds} s" if Time.now > deadline
      sleep 0.01
    end
  end

  # True when the thread ends within `seconds` (whether it returned or raised).
  def finished?(thread, seconds = 5)
    deadline = Time.now + seconds
    sleep 0.01 while thread.alive? && Time.now < deadline
    !thread.alive?
  end

  # What the finished thread raised (Ruby or Java exception), or nil when it returned.
  def raised_by(thread)
    thread.value
    nil
  rescue Exception, java.lang.Throwable => e
    e
  end

  def close_opened_plugins
    (@opened_plugins || []).each do |plugin|
      begin
        FakeProducer.created.each(&:complete_held!)
        plugin.do_close
      rescue StandardError
        nil
      end
    end
  end
end
