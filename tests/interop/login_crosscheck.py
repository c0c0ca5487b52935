"""botocore reads, and refreshes, the `aws login` cache file mcp-sigv4 rewrote.

Run by tests/interop.rs (interop_botocore_reads_and_refreshes_the_aws_login_cache_we_rewrote)
with HOME, AWS_CONFIG_FILE, AWS_LOGIN_CACHE_DIRECTORY and AWS_ENDPOINT_URL_SIGNIN
pointing at the test's files and its Sign-In stub on 127.0.0.1. Prints one JSON
object: what botocore's own cache reader (LoginCredentialFetcher, no awscrt
needed) and its credential chain (LoginProvider through a Session, which
refreshes with a DPoP proof signed by awscrt when the cache is about to
expire) give. The Rust side asserts on it.
"""

import json
import sys

import botocore
import botocore.session
from botocore.credentials import LoginCredentialFetcher
from botocore.utils import JSONFileCache, LoginTokenLoader, get_login_token_cache_directory


def main():
    login_session, profile = sys.argv[1], sys.argv[2]
    loader = LoginTokenLoader(JSONFileCache(get_login_token_cache_directory()))
    fetcher = LoginCredentialFetcher(
        session_name=login_session, token_loader=loader, client_creator=None
    )
    cached = fetcher.load_cached_credentials()
    credentials = botocore.session.Session(profile=profile).get_credentials()
    frozen = credentials.get_frozen_credentials()
    print(
        json.dumps(
            {
                "botocore": botocore.__version__,
                "cached_access_key": cached["access_key"],
                "cached_account_id": cached["account_id"],
                "method": credentials.method,
                "access_key": frozen.access_key,
                "secret_key": frozen.secret_key,
                "token": frozen.token,
            }
        )
    )


if __name__ == "__main__":
    main()
