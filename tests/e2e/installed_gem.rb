# encoding: utf-8
# Loads the INSTALLED plugin gem (never the source tree) inside the logstash-core stand-in.
# The gem is found without activating it: its runtime dependencies are provided by the
# stand-in, not installed.
#
#   GEM_PATH=<install dir>:/usr/share/rubygems-integration/all jruby <script requiring this>
module InstalledGem
  NAME = "logstash-output-kinesis".freeze
  STANDIN_LIB = File.expand_path("../../ruby/spec/support/logstash_standin/lib", __dir__)
  ABORTED_BATCH_EXCEPTION = File.expand_path("../../ruby/spec/support/aborted_batch_exception", __dir__)

  module_function

  # Loads the stand-in and the plugin; with `hand_back`, also Logstash 8.8's
  # AbortedBatchException. Returns the gem's specification.
  def load!(hand_back: false)
    spec = Gem::Specification.find_all_by_name(NAME).max_by(&:version)
    abort("#{$PROGRAM_NAME}: gem #{NAME} is not installed (GEM_PATH=#{ENV['GEM_PATH']})") unless spec
    $LOAD_PATH.unshift(STANDIN_LIB)
    $LOAD_PATH.unshift(*spec.full_require_paths)

    require "java"
    require ABORTED_BATCH_EXCEPTION if hand_back
    require "logstash-core"
    require "logstash/event"
    require "logstash-output-kinesis_jars"
    require "logstash/outputs/kinesis"

    plugin_file = $LOADED_FEATURES.find { |path| path.end_with?("/logstash/outputs/kinesis.rb") }
    unless plugin_file && plugin_file.start_with?(spec.gem_dir)
      abort("#{$PROGRAM_NAME}: plugin loaded from #{plugin_file.inspect}, not from #{spec.gem_dir}")
    end
    spec
  end
end
