//! [`PrivateRedis`]: a `redis-server` of the test's own, on a free port, for the faults that
//! must not disturb other tests (a password, killing it mid-load).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` this test started (persisting nothing); killed when dropped.
pub struct PrivateRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    password: Option<String>,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port, requiring `password` if given; waits until it accepts
    /// connections.
    pub fn start(password: Option<&str>) -> PrivateRedis {
        PrivateRedis::start_on(free_port(), password)
    }

    /// Starts one on `port` (e.g. one an app was told to use before its Redis existed).
    pub fn start_on(port: u16, password: Option<&str>) -> PrivateRedis {
        let mut redis = PrivateRedis {
            port,
            password: password.map(str::to_owned),
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://[:password@]127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: u32) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/{db}", self.port),
            None => format!("redis://127.0.0.1:{}/{db}", self.port),
        }
    }

    /// `redis://127.0.0.1:<port>/0`, without the password.
    pub fn url_without_password(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills it (SIGKILL, as a crash), if running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A paused server must be resumed to die promptly.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Pauses it (SIGSTOP): connections stay open and commands queue, unanswered, as on an
    /// overloaded server.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resumes it after [`pause`](Self::pause) (SIGCONT): it then runs what queued.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// Starts it again on the same port (empty dataset), killing it first if running.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--databases", "16"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        self.child = Some(command.spawn().expect("start redis-server"));
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on now (the kernel's choice, released at once).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}
