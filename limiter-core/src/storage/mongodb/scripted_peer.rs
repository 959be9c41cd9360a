//! A scripted peer that speaks MongoDB's wire protocol (`OP_MSG`) over a real socket, for the
//! start-up causes that need a server's answer (authentication, bad database): no MongoDB server
//! can run on the project's machines. It is not a MongoDB: it answers `hello` as a standalone
//! server does and every other command as its script says, with the error documents MongoDB
//! sends (`ok: 0`, `code`, `codeName`, `errmsg`). What it checks is the driver's side: the error
//! the real driver gives for such an answer, and how the storage reads it.

use ::mongodb::bson::{doc, Document};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// `OP_MSG`'s operation code.
const OP_MSG: i32 = 2013;

/// How the peer answers one command (by name; `hello` is answered before the script is asked).
pub(super) type Script = fn(command: &str, body: &Document) -> Document;

/// Starts a peer on 127.0.0.1 that answers with `script`; its port. Its threads end with the
/// test process.
pub(super) fn start(script: Script) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = serve(stream, script);
            });
        }
    });
    port
}

/// MongoDB's error reply.
pub(super) fn error_reply(code: i32, code_name: &str, message: &str) -> Document {
    doc! { "ok": 0.0, "errmsg": message, "code": code, "codeName": code_name }
}

/// A success with nothing else to say.
pub(super) fn ok() -> Document {
    doc! { "ok": 1.0 }
}

fn hello() -> Document {
    doc! {
        "helloOk": true,
        "isWritablePrimary": true,
        "ismaster": true,
        "maxBsonObjectSize": 16_777_216,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "localTime": ::mongodb::bson::DateTime::now(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": 1,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "readOnly": false,
        "ok": 1.0,
    }
}

/// Answers every message of one connection until the client closes it.
fn serve(mut stream: TcpStream, script: Script) -> io::Result<()> {
    loop {
        let mut header = [0_u8; 16];
        stream.read_exact(&mut header)?;
        let length = i32_at(&header, 0);
        let request_id = i32_at(&header, 4);
        if i32_at(&header, 12) != OP_MSG || length < 21 {
            return Ok(());
        }
        let mut rest = vec![0_u8; length as usize - header.len()];
        stream.read_exact(&mut rest)?;
        // flags (4 bytes), then the body section: kind 0 and one document.
        if rest[4] != 0 {
            return Ok(());
        }
        let body = Document::from_reader(&mut &rest[5..])
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        let command = body.keys().next().cloned().unwrap_or_default();
        let reply = match command.as_str() {
            "hello" | "ismaster" | "isMaster" => hello(),
            _ => script(&command, &body),
        };
        write_reply(&mut stream, request_id, &reply)?;
    }
}

fn write_reply(stream: &mut TcpStream, response_to: i32, reply: &Document) -> io::Result<()> {
    let mut document = Vec::new();
    reply
        .to_writer(&mut document)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    let length = 16 + 4 + 1 + document.len();
    let mut message = Vec::with_capacity(length);
    message.extend_from_slice(&(length as i32).to_le_bytes());
    message.extend_from_slice(&0_i32.to_le_bytes());
    message.extend_from_slice(&response_to.to_le_bytes());
    message.extend_from_slice(&OP_MSG.to_le_bytes());
    message.extend_from_slice(&0_u32.to_le_bytes());
    message.push(0);
    message.extend_from_slice(&document);
    stream.write_all(&message)
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
