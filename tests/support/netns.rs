//! A network namespace with a lossy loopback, created by a test and removed when dropped: UDP
//! datagrams arriving in it are dropped at random (nftables `numgen random`; tc netem is not
//! available here). Code runs inside it by re-executing the current test binary under
//! `ip netns exec`, so the sockets of that process are bound in the namespace.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{bail, Context};

/// The namespace; deleted (with its nftables rules) on drop.
pub struct LossyNetns {
    name: String,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Why a namespace could not be made at all (no privileges, no iproute2): the caller may skip.
#[derive(Debug)]
pub struct NoNamespaces(pub anyhow::Error);

impl LossyNetns {
    /// Creates namespace `p2pcf-<tag>-<pid>` with `lo` up and `loss_per_mille` / 1000 of the
    /// UDP datagrams arriving in it dropped. `lo` gets `gso_max_segs 1` so the kernel splits
    /// UDP GSO batches before the filter and each datagram is dropped on its own (on loopback
    /// a whole batch of datagrams would otherwise pass the filter as one packet).
    pub fn create(tag: &str, loss_per_mille: u32) -> Result<Self, NoNamespaces> {
        let name = format!("p2pcf-{tag}-{}", std::process::id());
        ip(&["netns", "add", &name]).map_err(NoNamespaces)?;
        let ns = Self { name };
        ns.configure(loss_per_mille)
            .map_err(|e| NoNamespaces(e.context("configuring the namespace")))?;
        Ok(ns)
    }

    fn configure(&self, loss_per_mille: u32) -> anyhow::Result<()> {
        ip(&["-n", &self.name, "link", "set", "lo", "up"])?;
        ip(&["-n", &self.name, "link", "set", "lo", "gso_max_segs", "1"])?;
        if loss_per_mille == 0 {
            return Ok(());
        }
        let rules = format!(
            "table inet lossy {{\n chain input {{\n  type filter hook input priority 0;\n  \
             meta l4proto udp numgen random mod 1000 < {loss_per_mille} drop\n }}\n}}\n"
        );
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running nft")?;
        if let Some(mut stdin) = nft.stdin.take() {
            use std::io::Write;
            stdin.write_all(rules.as_bytes())?;
        }
        let out = nft.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "nft failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command running the current executable inside the namespace (add arguments and
    /// environment; the child should recognise itself by an environment variable).
    pub fn command_for_self(&self) -> anyhow::Result<Command> {
        let exe: PathBuf = std::env::current_exe().context("locating the running binary")?;
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(exe);
        Ok(command)
    }

    /// Runs test `test_name` of the current test binary inside the namespace with `env_key` set
    /// to `env_value` (the child recognises itself by it), output inherited.
    pub fn run_test(
        &self,
        test_name: &str,
        env_key: &str,
        env_value: &str,
    ) -> anyhow::Result<ExitStatus> {
        self.command_for_self()?
            .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(env_key, env_value)
            .status()
            .context("running the test binary in the namespace")
    }
}

impl Drop for LossyNetns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("could not remove network namespace {}: {e:#}", self.name);
        }
    }
}
