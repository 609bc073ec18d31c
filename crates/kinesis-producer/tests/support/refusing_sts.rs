//! An STS stand-in on 127.0.0.1 that refuses every AssumeRole the way AWS does when the
//! caller may not assume the role (HTTP 403, AccessDenied), and counts the calls.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct RefusingSts {
    pub endpoint: String,
    calls: Arc<AtomicUsize>,
}

/// The message AWS gives, with the role ARN of the test.
pub fn access_denied_message(role_arn: &str) -> String {
    format!(
        "User: arn:aws:iam::123456789012:user/shipper is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
}

impl RefusingSts {
    pub fn start(role_arn: &str) -> RefusingSts {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>AccessDenied</Code><Message>{}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>",
            access_denied_message(role_arn)
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and the Content-Length body, then answer and close.
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        RefusingSts { endpoint, calls }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
