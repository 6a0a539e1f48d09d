//! A phone's WebRTC end for tests: a str0m peer (sans-IO) on a UDP socket
//! bound to 127.0.0.1 that answers a browser's offer and echoes every
//! data-channel message, so a test proves a call really connects: ICE,
//! DTLS and SCTP up between the console's browser and "the phone", with
//! only the server's signalling between them.
//!
//! str0m has no clock and no socket: [`Answerer::drive_for`] feeds it
//! datagrams and timeouts and sends what it asks to. Candidates other than
//! IPv4 loopback host candidates are ignored, so the media never leaves
//! loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

/// The answering side of a call.
pub struct Answerer {
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    /// ICE reached connected (and stays true).
    pub ice_connected: bool,
    /// Data-channel messages echoed back.
    pub echoed: usize,
}

impl std::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerer")
            .field("addr", &self.addr)
            .field("ice_connected", &self.ice_connected)
            .field("echoed", &self.echoed)
            .finish_non_exhaustive()
    }
}

impl Answerer {
    /// Binds 127.0.0.1 and offers it as the one host candidate.
    pub async fn bind() -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut rtc = Rtc::builder().build(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Self {
            rtc,
            socket,
            addr,
            ice_connected: false,
            echoed: 0,
        }
    }

    /// The answer to `offer` (SDP text); it carries our candidate.
    pub fn answer(&mut self, offer: &str) -> String {
        let offer = SdpOffer::from_sdp_string(offer).expect("a parseable offer");
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("an acceptable offer");
        answer.to_sdp_string()
    }

    /// Adds a trickled candidate (`RTCIceCandidateInit` as JSON) if it is a
    /// loopback host candidate; true when added.
    pub fn add_candidate(&mut self, init: &str) -> bool {
        let Ok(init) = serde_json::from_str::<serde_json::Value>(init) else {
            return false;
        };
        let line = init["candidate"].as_str().unwrap_or_default();
        if !line.contains(" 127.0.0.1 ") {
            return false;
        }
        let Ok(mut candidate) = Candidate::from_sdp_string(line) else {
            return false;
        };
        if let Some(ufrag) = init["usernameFragment"].as_str() {
            candidate.set_ufrag(ufrag);
        }
        self.rtc.add_remote_candidate(candidate);
        true
    }

    /// Runs the connection for `wait`: sends what str0m asks to, feeds it
    /// what arrives and the passing time, echoes channel data.
    pub async fn drive_for(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 2048];
        loop {
            let wake = loop {
                match self.rtc.poll_output().expect("str0m output") {
                    Output::Timeout(at) => break at,
                    Output::Transmit(t) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Output::Event(event) => self.on(event),
                }
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = received else { continue };
                    if let Ok(receive) = Receive::new(Protocol::Udp, from, self.addr, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), receive));
                    }
                }
                () = tokio::time::sleep_until(wake.min(deadline).into()) => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
    }

    fn on(&mut self, event: Event) {
        match event {
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => self.ice_connected = true,
            Event::ChannelData(data) => {
                if let Some(mut channel) = self.rtc.channel(data.id)
                    && channel.write(data.binary, &data.data).unwrap_or(false)
                {
                    self.echoed += 1;
                }
            }
            _ => {}
        }
    }
}
