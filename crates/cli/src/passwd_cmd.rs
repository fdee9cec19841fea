//! `zicht passwd`: turns a password into the SCRAM verifier a `[[server.users]]` entry stores, so
//! configuration files never hold passwords.

use std::io::{BufRead, IsTerminal};

use zicht_pgwire::scram::ScramVerifier;

use crate::Failure;
use crate::args::PasswdArgs;

pub fn run(args: PasswdArgs) -> Result<(), Failure> {
    if args.iterations < 4096 {
        return Err(Failure::new("use at least 4096 iterations"));
    }
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        return Err(Failure::new("empty password"));
    }
    println!("{}", ScramVerifier::from_password(&password, args.iterations));
    Ok(())
}
