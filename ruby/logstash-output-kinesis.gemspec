# The native libraries `gradle gem` vendored, one "<platform> (<libc>)" per line.
native_platforms_file = File.expand_path("vendor/native/platforms.txt", __dir__)
native_platforms = File.exist?(native_platforms_file) ? File.readlines(native_platforms_file).map(&:strip).reject(&:empty?) : []

Gem::Specification.new do |s|
  s.name          = "logstash-output-kinesis"
  s.version       = "6.0.0"
  s.licenses      = ["Apache-2.0"]
  s.summary       = "Sends Logstash events to Amazon Kinesis Data Streams with an in-process producer"
  s.description   = "A Logstash output for Kinesis Data Streams: KPL-compatible aggregation without the KPL " \
                    "daemon, at-least-once delivery, dead letter queue support. Install with " \
                    "bin/logstash-plugin install logstash-output-kinesis."
  s.authors       = ["logstash-output-kinesis contributors"]
  s.platform      = "java"
  s.require_paths = ["lib", "vendor/jar-dependencies"]
  s.required_ruby_version = ">= 2.5"

  s.files = Dir[
    "lib/**/*.rb",
    "vendor/**/*",
    "docs/**/*",
    "*.gemspec",
    "README*",
    "CHANGELOG*",
    "LICENSE*",
    "NOTICE*",
  ]

  # Tells Logstash that this gem is a plugin, and of which kind.
  s.metadata = { "logstash_plugin" => "true", "logstash_group" => "output" }
  # The JVM platforms the vendored native library supports (the gem itself is platform java).
  s.metadata["supported_platforms"] = native_platforms.empty? ? "none (build the gem with gradle gem)" : native_platforms.join(", ")
  s.requirements << "a JVM on #{native_platforms.empty? ? 'a platform with a vendored native library' : native_platforms.join(' or ')}"

  s.add_runtime_dependency "logstash-core-plugin-api", ">= 1.60", "<= 2.99"
  s.add_runtime_dependency "logstash-codec-json"
end
