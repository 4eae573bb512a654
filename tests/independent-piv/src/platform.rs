//! trussed's software platform with the backends piv-authenticator needs: PIN handling
//! (trussed-auth), chunked files, HPKE and key wrapping (trussed-staging), and RSA (trussed-rsa-alloc).

use piv_authenticator::{Authenticator, Options};
use trussed::backend::{Backend as _, BackendId};
use trussed::platform::Platform;
use trussed::serde_extensions::{ExtensionDispatch, ExtensionId, ExtensionImpl};
use trussed::service::ServiceResources;
use trussed::types::Context;
use trussed::virt::{self, StoreConfig};
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::api::{reply, request, Reply, Request};
use trussed_core::types::{Bytes, Location};
use trussed_core::Error;
use trussed_hpke::HpkeExtension;
use trussed_rsa_alloc::SoftwareRsa;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Auth,
    Staging,
    Rsa,
}

/// Tried in order for core requests; the core backend last.
const BACKENDS: &[BackendId<Backend>] = &[
    BackendId::Custom(Backend::Staging),
    BackendId::Custom(Backend::Auth),
    BackendId::Custom(Backend::Rsa),
    BackendId::Core,
];

#[derive(Debug, Clone, Copy)]
pub enum Extension {
    Auth = 0,
    Chunked = 1,
    Hpke = 2,
    WrapKeyToFile = 3,
}

impl From<Extension> for u8 {
    fn from(e: Extension) -> u8 {
        e as u8
    }
}

impl TryFrom<u8> for Extension {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        Ok(match id {
            0 => Self::Auth,
            1 => Self::Chunked,
            2 => Self::Hpke,
            3 => Self::WrapKeyToFile,
            _ => return Err(Error::InternalError),
        })
    }
}

pub struct Dispatch {
    auth: AuthBackend,
    staging: StagingBackend,
}

#[derive(Default)]
pub struct DispatchContext {
    auth: AuthContext,
    staging: StagingContext,
}

impl ExtensionDispatch for Dispatch {
    type BackendId = Backend;
    type Context = DispatchContext;
    type ExtensionId = Extension;

    fn core_request<P: Platform>(
        &mut self,
        backend: &Backend,
        ctx: &mut Context<DispatchContext>,
        request: &Request,
        resources: &mut ServiceResources<P>,
    ) -> Result<Reply, Error> {
        let core = &mut ctx.core;
        match backend {
            Backend::Auth => self
                .auth
                .request(core, &mut ctx.backends.auth, request, resources),
            Backend::Staging => {
                self.staging
                    .request(core, &mut ctx.backends.staging, request, resources)
            }
            Backend::Rsa => SoftwareRsa.request(core, &mut (), request, resources),
        }
    }

    fn extension_request<P: Platform>(
        &mut self,
        backend: &Backend,
        extension: &Extension,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let core = &mut ctx.core;
        let staging = &mut ctx.backends.staging;
        match (backend, extension) {
            (Backend::Auth, Extension::Auth) => self.auth.extension_request_serialized(
                core,
                &mut ctx.backends.auth,
                request,
                resources,
            ),
            (Backend::Staging, Extension::Chunked) => {
                ExtensionImpl::<ChunkedExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    staging,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::Hpke) => {
                ExtensionImpl::<HpkeExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    staging,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::WrapKeyToFile) => {
                ExtensionImpl::<WrapKeyToFileExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    staging,
                    request,
                    resources,
                )
            }
            _ => Err(Error::RequestNotAvailable),
        }
    }
}

impl ExtensionId<AuthExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::Auth;
}
impl ExtensionId<ChunkedExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::Chunked;
}
impl ExtensionId<HpkeExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::Hpke;
}
impl ExtensionId<WrapKeyToFileExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::WrapKeyToFile;
}

/// A fresh piv-authenticator in its factory state (PIN 123456, PUK 12345678, the YubiKey default
/// 3DES management key), on RAM storage.
pub type Token<'a> = Authenticator<virt::Client<'a, Dispatch>>;

/// Runs `f` with a fresh token; trussed's service runs on a thread beside it until `f` returns.
pub fn with_token<R>(f: impl FnOnce(Token<'_>) -> R) -> R {
    let dispatch = Dispatch {
        auth: AuthBackend::with_hw_key(
            Location::Internal,
            Bytes::from(b"certrenew test device key"),
            FilesystemLayout::V0,
        ),
        staging: StagingBackend::new(),
    };
    virt::with_platform(StoreConfig::ram(), |platform| {
        platform.run_client_with_backends("piv", dispatch, BACKENDS, |client| {
            f(Authenticator::new(client, Options::default()))
        })
    })
}
