# encoding: utf-8
require "logstash/namespace"
require "logstash/config/mixin"
require "logstash/logging/logger"
require "logstash/instrument/metric"
require "logstash/execution_context"

module LogStash
  # What every plugin shares: config, id, logger, metric, execution context, close.
  class Plugin
    include LogStash::Util::Loggable
    include LogStash::Config::Mixin

    # The plugin's id; Logstash generates one when not set.
    config :id, :validate => :string
    # Turns the plugin's metrics off.
    config :enable_metric, :validate => :boolean, :default => true

    attr_reader :params
    attr_writer :execution_context

    def initialize(params = {})
      @logger = logger
      @params = config_init(params)
      @id ||= "#{self.class.config_name}_#{object_id}"
    end

    attr_reader :id

    # Set by the pipeline after `new` and before `register`.
    def metric=(metric)
      @metric = metric
      @metric_plugin = nil
    end

    def metric
      @metric_plugin ||= @enable_metric && @metric ? @metric : LogStash::Instrument::NullMetric.new
    end

    # Set by the pipeline; a context with the dead letter queue off when none was given.
    def execution_context
      @execution_context ||= LogStash::ExecutionContext.new
    end

    def register; end

    def close; end

    # Called once by the pipeline after every worker stopped.
    def do_close
      close
    end

    def to_s
      "#{self.class.name}<#{@params}>"
    end

    def inspect
      to_s
    end
  end
end
