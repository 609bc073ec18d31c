# encoding: utf-8
# Runs the plugin inside the logstash-core stand-in, with the native producer replaced by
# FakeProducer (see support/). Run with ./run-specs.sh.
$LOAD_PATH.unshift(File.expand_path("support/logstash_standin/lib", __dir__))
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))

require "java"
require_relative "support/aborted_batch_exception"
require "logstash-core"
require "logstash/outputs/kinesis"
require_relative "support/fake_producer"
require_relative "support/plugin_harness"

RSpec.configure do |config|
  config.include PluginHarness
  config.disable_monkey_patching!
  config.order = :random
  config.before(:each) do
    LogStash::Logging::Logger.all.each(&:clear)
    FakeProducer.reset_created
    allow(LogStash::Outputs::Kinesis::Producer).to receive(:new) { |json| FakeProducer.create(json) }
  end
  config.after(:each) { close_opened_plugins }
end
