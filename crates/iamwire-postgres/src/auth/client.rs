//! The SCRAM-SHA-256(-PLUS) client used for upstream logins, with an injected nonce.

use std::num::NonZeroU32;

use super::scram::{
    Gs2Flag, Key, b64_decode, b64_encode, ct_eq, hmac, is_printable, salted_password, sha256,
    take_attr,
};
use super::{AuthError, AuthMethod, MutualAuthFailure, Nonce, ScramMessage, ScramServerError};

/// A SCRAM client that has sent its client-first message.
pub(crate) struct ScramClient {
    method: AuthMethod,
    gs2: Gs2Flag,
    cbind_data: Vec<u8>,
    client_nonce: Nonce,
    client_first_bare: String,
}

/// A SCRAM client that has sent its client-final message and waits for the server's proof.
pub(crate) struct ScramClientFinal {
    method: AuthMethod,
    expected_server_signature: Key,
}

impl ScramClient {
    /// Start an exchange; returns the client and the client-first message. Postgres clients
    /// send an empty user name (`n=`): the server uses the startup packet's.
    pub(crate) fn start(
        method: AuthMethod,
        gs2: Gs2Flag,
        cbind_data: Vec<u8>,
        client_nonce: Nonce,
        user: &str,
    ) -> (Self, Vec<u8>) {
        let client_first_bare = format!("n={},r={}", sasl_name(user), client_nonce.as_str());
        let message = format!("{}{client_first_bare}", gs2.header()).into_bytes();
        let client = ScramClient {
            method,
            gs2,
            cbind_data,
            client_nonce,
            client_first_bare,
        };
        (client, message)
    }

    /// Handle the server-first message; returns the next state and the client-final message.
    pub(crate) fn server_first(
        self,
        password: &[u8],
        data: &[u8],
        max_iterations: NonZeroU32,
    ) -> Result<(ScramClientFinal, Vec<u8>), AuthError> {
        let method = self.method;
        let malformed = |what| AuthError::Malformed {
            method,
            message: ScramMessage::ServerFirst,
            what,
        };
        let text = std::str::from_utf8(data).map_err(|_| malformed("not UTF-8"))?;
        let mut attrs = text.split(',').peekable();
        if take_attr(&mut attrs, 'm').is_some() {
            return Err(AuthError::UnsupportedExtension { method });
        }
        let nonce = take_attr(&mut attrs, 'r').ok_or(malformed("missing r= attribute"))?;
        let salt = take_attr(&mut attrs, 's').ok_or(malformed("missing s= attribute"))?;
        let iterations = take_attr(&mut attrs, 'i').ok_or(malformed("missing i= attribute"))?;
        if attrs.next().is_some() {
            return Err(malformed("garbage at the end"));
        }
        if !is_printable(nonce) {
            return Err(malformed("nonce is not printable"));
        }
        // The server must extend our nonce with its own part.
        let client_nonce = self.client_nonce.as_str();
        if nonce.len() <= client_nonce.len() || !nonce.starts_with(client_nonce) {
            return Err(AuthError::NonceMismatch {
                method,
                message: ScramMessage::ServerFirst,
            });
        }
        let salt = b64_decode(salt).ok_or(malformed("s= is not base64"))?;
        if !iterations.bytes().all(|b| b.is_ascii_digit()) || iterations.len() > 19 {
            return Err(malformed("i= is not a number"));
        }
        let requested: u64 = iterations
            .parse()
            .map_err(|_| malformed("i= is not a number"))?;
        let iterations = u32::try_from(requested)
            .ok()
            .and_then(NonZeroU32::new)
            .filter(|i| *i <= max_iterations)
            .ok_or(AuthError::IterationsOutOfRange {
                method,
                iterations: requested,
                max: max_iterations.get(),
            })?;

        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let stored_key = sha256(&client_key);
        let server_key = hmac(&salted, &[b"Server Key"]);

        let without_proof = format!(
            "c={},r={nonce}",
            self.gs2.channel_binding_attr(&self.cbind_data)
        );
        let auth_message = [
            self.client_first_bare.as_bytes(),
            b",",
            data,
            b",",
            without_proof.as_bytes(),
        ];
        let client_signature = hmac(&stored_key, &auth_message);
        let mut proof = client_key;
        proof
            .iter_mut()
            .zip(client_signature.iter())
            .for_each(|(p, s)| *p ^= s);
        let message = format!("{without_proof},p={}", b64_encode(&proof)).into_bytes();
        let next = ScramClientFinal {
            method,
            expected_server_signature: hmac(&server_key, &auth_message),
        };
        Ok((next, message))
    }
}

impl ScramClientFinal {
    /// Verify the server-final message: the server must prove it knows the password.
    pub(crate) fn server_final(self, data: &[u8]) -> Result<(), AuthError> {
        let method = self.method;
        let malformed = |what| AuthError::Malformed {
            method,
            message: ScramMessage::ServerFinal,
            what,
        };
        let text = std::str::from_utf8(data).map_err(|_| malformed("not UTF-8"))?;
        let mut attrs = text.split(',').peekable();
        if let Some(error) = take_attr(&mut attrs, 'e') {
            return Err(AuthError::PeerRejected {
                method,
                error: ScramServerError::from_wire(error),
            });
        }
        let verifier = take_attr(&mut attrs, 'v').ok_or(malformed("missing v= attribute"))?;
        if attrs.next().is_some() {
            return Err(malformed("garbage at the end"));
        }
        let signature = b64_decode(verifier).ok_or(malformed("v= is not base64"))?;
        if !ct_eq(&signature, &self.expected_server_signature) {
            return Err(AuthError::MutualAuthFailed {
                method,
                reason: MutualAuthFailure::BadSignature,
            });
        }
        Ok(())
    }
}

/// RFC 5802 `saslname`: `=` and `,` escaped.
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: NonZeroU32 = match NonZeroU32::new(10_000) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    };

    #[test]
    fn rfc_7677_client_messages() {
        let (client, first) = ScramClient::start(
            AuthMethod::ScramSha256,
            Gs2Flag::NotSupported,
            Vec::new(),
            Nonce::new("rOprNGfwEbeRWgbNEkqO").unwrap(),
            "user",
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (fin, client_final) = client.server_first(b"pencil", server_first, MAX).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        fin.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn sasl_name_escapes() {
        assert_eq!(sasl_name("a=b,c"), "a=3Db=2Cc");
    }
}
