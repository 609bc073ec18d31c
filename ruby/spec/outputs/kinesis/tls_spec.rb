# encoding: utf-8
# Certificate verification: on by default; turning it off is said out loud at register.
RSpec.describe LogStash::Outputs::Kinesis, "TLS" do
  def certificate_warnings
    log_lines(:warn).select { |line| line.message.include?("verify_certificate => false") }
  end

  it "verifies certificates by default, without a warning" do
    registered_plugin
    expect(producer.config["verify_certificate"]).to be(true)
    expect(certificate_warnings).to be_empty
  end

  it "logs one WARN at register when verify_certificate is off" do
    plugin = registered_plugin("verify_certificate" => false)
    expect(certificate_warnings.size).to eq(1)
    expect(certificate_warnings.first.message).to include("not verified")
    plugin.multi_receive([event])
    expect(certificate_warnings.size).to eq(1)
  end
end
