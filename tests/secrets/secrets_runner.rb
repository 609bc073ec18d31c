# encoding: utf-8
# Runs the INSTALLED plugin gem in the logstash-core stand-in with every secret option set to
# the distinctive values of --secrets, with the plugin's logger routed to log4j2 like in
# Logstash (the engine logs to log4j2 on its own), so that everything either writes ends up on
# stdout/stderr for tests/secrets/run.sh to search. Runs:
#   delivered    an STS role (moto) for Kinesis and one for metrics, a proxy with credentials,
#                static and metrics keys, external id: events are delivered
#   sts-down     STS unreachable: register fails
#   no-stream    the stream does not exist: events fail and are dead-lettered
#   lone-key     a secret_key without access_key: register fails
#
#   jruby -J-Dlog4j.configurationFile=... secrets_runner.rb --moto URL --kinesis URL --secrets FILE
require "json"
require "optparse"
require "socket"

STANDIN_LIB = File.expand_path("../../ruby/spec/support/logstash_standin/lib", __dir__)
GEM_NAME = "logstash-output-kinesis".freeze
KINESIS_ROLE = "arn:aws:iam::111122223333:role/secrets-kinesis".freeze
METRICS_ROLE = "arn:aws:iam::111122223333:role/secrets-metrics".freeze

options = {}
OptionParser.new do |parser|
  parser.on("--moto URL") { |v| options[:moto] = v }
  parser.on("--kinesis URL") { |v| options[:kinesis] = v }
  parser.on("--secrets FILE") { |v| options[:secrets] = v }
end.parse!
abort("secrets_runner: --moto, --kinesis and --secrets are required") unless options.size == 3
secrets = JSON.parse(File.read(options[:secrets]))

spec = Gem::Specification.find_all_by_name(GEM_NAME).max_by(&:version)
abort("secrets_runner: gem #{GEM_NAME} is not installed (GEM_PATH=#{ENV['GEM_PATH']})") unless spec
$LOAD_PATH.unshift(STANDIN_LIB)
$LOAD_PATH.unshift(*spec.full_require_paths)

require "java"
require "logstash-core"
require "logstash/event"
require "logstash-output-kinesis_jars"
require "logstash/outputs/kinesis"

# Logstash's loggers are log4j2 loggers: send the stand-in's lines there too, message first,
# then the details, as Logstash prints them.
module LogStash
  module Logging
    class Logger
      alias_method :record_in_standin, :record

      def record(level, message, data)
        record_in_standin(level, message, data)
        log4j = org.apache.logging.log4j.LogManager.getLogger(@name)
        text = data.empty? ? message : "#{message} #{data.inspect}"
        log4j.log(org.apache.logging.log4j.Level.toLevel(level.to_s.upcase), text)
      end
    end
  end
end

# An HTTP CONNECT proxy on 127.0.0.1 that insists on its credentials.
class CredentialProxy
  attr_reader :tunnels

  def initialize(user, password)
    @server = TCPServer.new("127.0.0.1", 0)
    @expected = "Basic #{["#{user}:#{password}"].pack('m0')}"
    @tunnels = 0
    Thread.new { loop { Thread.new(@server.accept) { |client| serve(client) } } }
  end

  def port
    @server.addr[1]
  end

  private

  def serve(client)
    head = +""
    head << client.readpartial(4096) until head.include?("\r\n\r\n")
    target = head[/\ACONNECT (\S+) /, 1]
    auth = head[/^proxy-authorization:[ \t]*([^\r\n]+)/i, 1]
    unless target && auth == @expected
      client.write("HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
      return
    end
    host, port = target.split(":")
    begin
      upstream = TCPSocket.new(host, port.to_i)
    rescue SystemCallError
      client.write("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
      return
    end
    client.write("HTTP/1.1 200 Connection established\r\n\r\n")
    @tunnels += 1
    back = Thread.new { pipe(upstream, client) }
    pipe(client, upstream)
    back.join
  rescue IOError, SystemCallError
    nil
  ensure
    client.close unless client.closed?
    upstream.close if upstream && !upstream.closed?
  end

  def pipe(from, to)
    loop { to.write(from.readpartial(16_384)) }
  rescue EOFError, IOError, SystemCallError
    nil
  ensure
    to.close_write rescue nil # rubocop:disable Style/RescueModifier
  end
end

def closed_port
  server = TCPServer.new("127.0.0.1", 0)
  port = server.addr[1]
  server.close
  port
end

def new_plugin(params)
  plugin = LogStash::Outputs::Kinesis.new(params)
  collector = LogStash::Instrument::Collector.new
  plugin.metric = LogStash::Instrument::NamespacedMetric.new(collector, [:stats, :pipelines, :main, :plugins, :outputs, :kinesis])
  queue = LogStash::DeadLetterQueue.new
  plugin.execution_context = LogStash::ExecutionContext.new(dlq_writer: LogStash::DeadLetterQueueWriter.new(queue))
  # Logstash prints every setting at DEBUG when it creates a plugin.
  plugin.class.get_config.each_key do |name|
    next unless name.is_a?(String) && name =~ /\A\w+\z/
    plugin.logger.debug("config LogStash::Outputs::Kinesis/@#{name} = #{plugin.instance_variable_get("@#{name}").inspect}")
  end
  [plugin, collector, queue]
end

def run(name, params, events)
  puts "== #{name}"
  plugin, collector, queue = new_plugin(params)
  plugin.register
  plugin.multi_receive(Array.new(events) { |i| LogStash::Event.new("message" => "#{name} #{i}") })
  sleep 1.5 # a metrics upload interval
  plugin.do_close
  metric = ->(key) { collector.value(:stats, :pipelines, :main, :plugins, :outputs, :kinesis, :kinesis, key) || 0 }
  puts "#{name}: delivered #{metric.call(:events_delivered)}, failed #{metric.call(:events_failed)}, " \
       "dead-lettered #{queue.entries.size}"
  queue.entries.first(3).each { |entry| puts "#{name}: dead letter: #{entry.reason}" }
  puts "#{name}: plugin #{plugin.inspect}"
rescue StandardError, java.lang.Exception => e
  puts "#{name}: register failed: #{e.class}: #{e.message}"
end

proxy = CredentialProxy.new("shipper", secrets.fetch("proxy_password"))
common = {
  "region" => "us-east-1", "stream_name" => "secrets", "kinesis_endpoint" => options[:kinesis],
  "access_key" => secrets.fetch("access_key"), "secret_key" => secrets.fetch("secret_key"),
  "metrics_access_key" => secrets.fetch("metrics_access_key"), "metrics_secret_key" => secrets.fetch("metrics_secret_key"),
  "external_id" => secrets.fetch("external_id"),
  "proxy" => "http://shipper:#{secrets.fetch('proxy_password')}@127.0.0.1:#{proxy.port}",
  "role_arn" => KINESIS_ROLE, "metrics_role_arn" => METRICS_ROLE, "sts_endpoint" => options[:moto],
  "cloudwatch_endpoint" => options[:moto], "metrics_upload_delay" => 1000,
  "record_ttl" => 3000, "request_timeout" => 2000, "connect_timeout" => 1000,
}.freeze

run("delivered", common, 50)
puts "delivered: proxy tunnels #{proxy.tunnels}"
run("sts-down", common.merge("sts_endpoint" => "http://127.0.0.1:#{closed_port}"), 5)
run("no-stream", common.merge("stream_name" => "no-such-stream"), 5)
run("lone-key", { "region" => "us-east-1", "stream_name" => "secrets", "secret_key" => secrets.fetch("secret_key") }, 1)
puts "== done"
