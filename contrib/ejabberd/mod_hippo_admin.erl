%%% mod_hippo_admin: the route the original Mugshot clients need (ejabberd 23.01).
%%%
%%% The original clients send every protocol IQ to admin@<their domain>, a user JID that a
%%% stock server answers itself (service-unavailable). hippod serves the protocol at its
%%% component domain. Enabled on the user host with
%%%
%%%     modules:
%%%       mod_hippo_admin: {component: rooms.example.org}
%%%
%%% this module sends get/set IQs to admin@<host> whose payload is in a
%%% http://dumbhippo.com/protocol/* namespace on to the component, keeping the sender's full
%%% JID as `from`, and hands the component's answer back as if admin@<host> had sent it.
%%% Everything else addressed to admin@ (other IQs, messages, presence) is left to the
%%% server: hippod has nothing to say to them.
%%%
%%% No table of pending requests: the forwarded IQ's id is the client's id behind a marker
%%% prefix, so an answer from the component carrying that prefix is recognised, its id
%%% restored and its `from` rewritten. This covers the component's results and errors and
%%% the error ejabberd bounces from the component domain while hippod is not connected.
-module(mod_hippo_admin).
-behaviour(gen_mod).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0]).
-export([user_send_packet/1, user_receive_packet/1]).

%% Debian installs the xmpp library as p1_xmpp-VERSION: erlc -I its include directory.
-include("xmpp.hrl").

-define(PROTOCOL_NS, "http://dumbhippo.com/protocol/").
-define(ID_PREFIX, "hippo-admin:").

start(Host, _Opts) ->
    ejabberd_hooks:add(user_send_packet, Host, ?MODULE, user_send_packet, 50),
    ejabberd_hooks:add(user_receive_packet, Host, ?MODULE, user_receive_packet, 50).

stop(Host) ->
    ejabberd_hooks:delete(user_send_packet, Host, ?MODULE, user_send_packet, 50),
    ejabberd_hooks:delete(user_receive_packet, Host, ?MODULE, user_receive_packet, 50).

reload(_Host, _NewOpts, _OldOpts) ->
    ok.

depends(_Host, _Opts) ->
    [].

mod_opt_type(component) ->
    econf:domain().

%% No default: without the component's domain there is nothing to route to.
mod_options(_Host) ->
    [component].

mod_doc() ->
    #{desc => <<"Routes the original Mugshot clients' protocol IQs from admin@HOST to "
                "the hippod component.">>}.

%% A client's IQ to admin@<host>: readdressed to the component (the c2s process then
%% routes it as usual, privacy lists included).
user_send_packet({#iq{type = T, id = Id, sub_els = [Payload],
                      to = #jid{luser = <<"admin">>, lserver = Host, lresource = <<>>}} = IQ,
                  #{lserver := Host} = State}) when T == get; T == set ->
    %% The original server dispatched on the payload's namespace only, never on its name.
    case is_protocol_ns(xmpp:get_ns(Payload)) of
        true ->
            Component = gen_mod:get_module_opt(Host, ?MODULE, component),
            {IQ#iq{to = jid:make(Component), id = <<?ID_PREFIX, Id/binary>>}, State};
        false ->
            {IQ, State}
    end;
user_send_packet(Acc) ->
    Acc.

%% The component's answer (or ejabberd's bounce from the component domain) to a forwarded
%% IQ. `from` is the bare admin JID because the original clients match answers on the bare
%% JID they sent to.
user_receive_packet({#iq{type = T, id = <<?ID_PREFIX, Id/binary>>,
                         from = #jid{luser = <<>>, lresource = <<>>, lserver = From}} = IQ,
                     #{lserver := Host} = State}) when T == result; T == error ->
    case gen_mod:get_module_opt(Host, ?MODULE, component) of
        From -> {IQ#iq{from = jid:make(<<"admin">>, Host), id = Id}, State};
        _ -> {IQ, State}
    end;
user_receive_packet(Acc) ->
    Acc.

is_protocol_ns(<<?PROTOCOL_NS, _/binary>>) -> true;
is_protocol_ns(_) -> false.
