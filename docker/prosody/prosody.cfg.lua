-- xmpp-share: the ONE Prosody configuration, used by the deployment (docker/compose.yaml) and by the
-- tests (tests/harness/prosody.ts). Everything that differs between the two comes from environment
-- variables, so a test exercises the same modules, limits and component wiring an admin runs.
--
-- Prosody 0.12 config is Lua; `os.getenv` is available while the file is read. Only `local`
-- variables are ours: every global assignment below is a Prosody option.
--
-- Shared with the sharing manager (xshare-component reads the COMPONENT ones too):
--   XSHARE_DOMAIN                        the users' XMPP domain            (default example.org)
--   XSHARE_COMPONENT_DOMAIN              the sharing manager's domain      (default share.<domain>)
--   XSHARE_COMPONENT_SECRET              XEP-0114 shared secret            (REQUIRED)
-- Prosody only:
--   XSHARE_PROSODY_C2S_PORT              client port                       (default 5222)
--   XSHARE_PROSODY_S2S_PORT              server-to-server port             (default 5269)
--   XSHARE_PROSODY_COMPONENT_PORT        XEP-0114 component port           (default 5347)
--   XSHARE_PROSODY_INTERFACES            c2s/s2s listen addresses, comma separated (default
--                                        127.0.0.1; compose sets "*": a container's loopback
--                                        is unreachable from outside it)
--   XSHARE_PROSODY_COMPONENT_INTERFACES  component listen addresses        (default 127.0.0.1;
--                                        compose sets "*" but never publishes the port)
--   XSHARE_PROSODY_DISABLE_S2S=1         no federation (tests: nothing outside the machine exists)
--   XSHARE_INSECURE_C2S=1                allow c2s without TLS; tests only, loopback only (below)
--   XSHARE_PROSODY_C2S_RATE              mod_limits c2s read rate          (default 10kb/s)
--   XSHARE_PROSODY_DATA_DIR              data_path                         (default /var/lib/prosody)
--   XSHARE_PROSODY_CERTS_DIR             certificates directory            (default "certs", next to
--                                        this file: /etc/prosody/certs in the image)
--   XSHARE_PROSODY_PIDFILE               pidfile                           (default: none)
--   XSHARE_PROSODY_LOG                   "*console", "*syslog" or a file   (default *console)
--   XSHARE_PROSODY_LOG_LEVEL             debug|info|warn|error             (default info)
--   XSHARE_PROSODY_ADMINS                admin JIDs, comma separated       (default none)
--   XSHARE_PROSODY_RUN_AS_ROOT=1         let Prosody run as uid 0. Tests set it when run as root;
--                                        without it prosodyctl switches to the 'prosody' user,
--                                        which cannot write the tests' temporary directory.
--
-- Daemonizing is chosen on the command line (`prosody -F`), not here: the `daemonize` option is
-- deprecated in 0.12 and only produces a warning.

local function env(name, default)
	local value = os.getenv(name);
	if value == nil or value == "" then return default; end
	return value;
end

local function flag(name)
	local value = os.getenv(name);
	return value == "1" or value == "true" or value == "yes";
end

local function list(value)
	local items = {};
	for item in value:gmatch("[^,%s]+") do items[#items + 1] = item; end
	return items;
end

local function port(name, default)
	local value = tonumber(env(name, default));
	if not value or value < 1 or value > 65535 then
		error(name .. " must be a TCP port number, got " .. tostring(os.getenv(name)), 0);
	end
	return value;
end

local domain = env("XSHARE_DOMAIN", "example.org");
local component_domain = env("XSHARE_COMPONENT_DOMAIN", "share." .. domain);
local secret = env("XSHARE_COMPONENT_SECRET", nil);
if not secret then
	error("XSHARE_COMPONENT_SECRET is not set: the sharing manager's XEP-0114 secret is required", 0);
end

local listen = list(env("XSHARE_PROSODY_INTERFACES", "127.0.0.1"));
local insecure_c2s = flag("XSHARE_INSECURE_C2S");
if insecure_c2s then
	-- Plaintext c2s is for the test suite only: it has no certificates, and it talks to Prosody
	-- over loopback. Refuse it on any other address so a copied env cannot expose passwords.
	for _, address in ipairs(listen) do
		if address ~= "127.0.0.1" and address ~= "::1" then
			error("XSHARE_INSECURE_C2S=1 is only allowed when XSHARE_PROSODY_INTERFACES is loopback, got " .. address, 0);
		end
	end
end

---------- Server-wide settings ----------

admins = list(env("XSHARE_PROSODY_ADMINS", ""));

modules_enabled = {
	-- Core IM: what every user's ordinary client expects.
	"roster";      -- contact lists; presence subscriptions carry the sharing presence too
	"saslauth";    -- log in
	"tls";         -- STARTTLS for c2s and s2s
	"disco";       -- service discovery; also lists the sharing manager (a subdomain component)
	"carbons";     -- the user's other clients see what they send (XEP-0280)
	"pep";         -- personal eventing, avatars and the like
	"blocklist";   -- XEP-0191
	"ping";        -- XEP-0199; xshare uses it to detect dead connections
	"register";    -- password changes only: allow_registration is false, accounts come from the admin
	"time"; "version"; "uptime";
	"limits";      -- bandwidth limits (see `limits` below)
	"admin_shell"; -- `prosodyctl shell` for the admin
	-- Not enabled: "smacks" (XEP-0198). The sharing protocol answers every SNM at once and retries
	-- on reconnect, so resumption adds nothing but state; "http*" (bulk data is served by the
	-- sharing manager itself, not by Prosody).
};

-- (Options cannot be read back in this file, hence the local table.)
local disabled = {};
if flag("XSHARE_PROSODY_DISABLE_S2S") then
	disabled[#disabled + 1] = "s2s";
	disabled[#disabled + 1] = "s2s_auth_certs";
end
if insecure_c2s then
	-- Without certificates mod_tls would still advertise STARTTLS, and the handshake then fails.
	disabled[#disabled + 1] = "tls";
end
modules_disabled = disabled;

allow_registration = false;
authentication = "internal_hashed";
storage = "internal";
data_path = env("XSHARE_PROSODY_DATA_DIR", "/var/lib/prosody");
pidfile = env("XSHARE_PROSODY_PIDFILE", nil);
certificates = env("XSHARE_PROSODY_CERTS_DIR", "certs");
run_as_root = flag("XSHARE_PROSODY_RUN_AS_ROOT");

log = { [env("XSHARE_PROSODY_LOG_LEVEL", "info")] = env("XSHARE_PROSODY_LOG", "*console") };

interfaces = listen;
c2s_ports = { port("XSHARE_PROSODY_C2S_PORT", "5222") };
s2s_ports = { port("XSHARE_PROSODY_S2S_PORT", "5269") };
-- The component listener is "private": it must never face the internet, the secret is all it has.
component_interfaces = list(env("XSHARE_PROSODY_COMPONENT_INTERFACES", "127.0.0.1"));
component_ports = { port("XSHARE_PROSODY_COMPONENT_PORT", "5347") };

-- Tests run without certificates, so they cannot negotiate TLS: XSHARE_INSECURE_C2S=1 (loopback
-- only, checked above) lets SCRAM/PLAIN run over plain TCP. Deployment always requires TLS.
c2s_require_encryption = not insecure_c2s;
allow_unencrypted_plain_auth = insecure_c2s;
s2s_require_encryption = true;
s2s_secure_auth = true;

-- Prosody's stock limits, kept in deployment on purpose: they are why file content travels over
-- HTTP and not XMPP (see DESIGN.md). c2s stanzas are also capped at 256 KiB (c2s_stanza_size_limit,
-- left at its default). Only tests that push big stanzas raise the rate, to stay fast.
limits = {
	c2s = { rate = env("XSHARE_PROSODY_C2S_RATE", "10kb/s"); burst = "2s" };
	s2sin = { rate = "30kb/s"; burst = "2s" };
};

---------- Hosts ----------

VirtualHost (domain)

-- The sharing manager: an XEP-0114 external component (component/, `xshare-component`).
Component (component_domain)
	component_secret = secret;
	-- A restarted sharing manager replaces a connection the server still holds for it (a crashed
	-- process, a dead network path not yet timed out) instead of being refused until that one
	-- times out. The replaced process stops rather than reconnect (component/link.ts).
	component_conflict_resolve = "kick_old";
