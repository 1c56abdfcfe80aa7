-- mod_hippo_admin: the route the original Mugshot clients need (Prosody 0.12).
--
-- The original clients send every protocol IQ to admin@<their domain>, a user JID that a
-- stock server answers itself (service-unavailable). hippod serves the protocol at its
-- component domain. Enabled on the user VirtualHost with
--
--     modules_enabled = { ...; "hippo_admin" }
--     hippo_component = "rooms.example.org"
--
-- this module forwards get/set IQs to admin@<vhost> whose payload is in a
-- http://dumbhippo.com/protocol/* namespace to the component, keeping the sender's full JID
-- as `from`, and hands the component's answer back as if admin@<vhost> had sent it.
-- Everything else addressed to admin@ (other IQs, messages, presence) is left to the server:
-- hippod has nothing to say to them.
--
-- No table of pending requests: the forwarded IQ's id is the client's id behind a marker
-- prefix, so an answer from the component carrying that prefix is recognised, its id
-- restored and its `from` rewritten. This covers the component's results and errors and
-- also the error Prosody itself bounces from the component domain while hippod is down.

local st = require "util.stanza";
local jid_split = require "util.jid".split;

local component = module:get_option_string("hippo_component");
if not component then
	module:log("error", "hippo_component is not set: protocol IQs to admin@%s are not routed", module.host);
	return;
end

-- Bare, because the original clients match answers on the bare admin JID they sent to.
local admin_jid = "admin@" .. module.host;
local protocol_ns = "http://dumbhippo.com/protocol/";
local id_prefix = "hippo-admin:";

-- Priority 10: ahead of mod_iq's and mod_disco's handlers for bare JIDs.
module:hook("iq/bare", function (event)
	local stanza = event.stanza;
	local node, host = jid_split(stanza.attr.to);
	if node ~= "admin" or host ~= module.host then return; end
	local t = stanza.attr.type;
	if t ~= "get" and t ~= "set" then return; end
	-- The original server dispatched on the payload's namespace only, never on its name.
	local payload = stanza.tags[1];
	local xmlns = payload and payload.attr.xmlns;
	if not (xmlns and xmlns:sub(1, #protocol_ns) == protocol_ns) then return; end

	local forwarded = st.clone(stanza);
	forwarded.attr.to = component;
	forwarded.attr.id = id_prefix .. (stanza.attr.id or "");
	module:send(forwarded);
	return true;
end, 10);

-- The component's answers (and Prosody's bounce while it is down) come from the component
-- domain to the user's full JID.
module:hook("iq/full", function (event)
	local stanza = event.stanza;
	local t = stanza.attr.type;
	if t ~= "result" and t ~= "error" then return; end
	-- Only the component's domain itself answers admin@'s IQs; a room never does.
	if stanza.attr.from ~= component then return; end
	local id = stanza.attr.id;
	if not (id and id:sub(1, #id_prefix) == id_prefix) then return; end
	stanza.attr.from = admin_jid;
	stanza.attr.id = id:sub(#id_prefix + 1);
	-- Not handled here: mod_iq delivers the rewritten stanza to the session.
end, 10);
