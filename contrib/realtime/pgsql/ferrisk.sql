-- Tables for res_config_pgsql (sippeers, voicemail, extensions) and cdr_pgsql (cdr), with
-- Asterisk's table and column names, so schemas made for Asterisk work unchanged and this
-- one works for Asterisk. Load with: psql -d asterisk -f ferrisk.sql
-- extconfig.conf:  sippeers => pgsql,general,sippeers
--                  voicemail => pgsql,general,voicemail
--                  extensions => pgsql,general,extensions

CREATE TABLE IF NOT EXISTS sippeers (
    id serial PRIMARY KEY,
    name varchar(80) NOT NULL UNIQUE,
    type varchar(6) DEFAULT 'friend',
    host varchar(31) DEFAULT 'dynamic',
    context varchar(80),
    secret varchar(80),
    md5secret varchar(80),
    defaultuser varchar(80),
    callerid varchar(80),
    accountcode varchar(80),
    mailbox varchar(80),
    nat varchar(29),
    permit varchar(95),
    deny varchar(95),
    insecure varchar(20),
    dtmfmode varchar(10),
    disallow varchar(200),
    allow varchar(200),
    qualify varchar(10),
    outboundproxy varchar(80),
    -- written by chan_sip when a phone registers (rtupdate)
    ipaddr varchar(45),
    port integer,
    regseconds integer,
    fullcontact varchar(80),
    regserver varchar(20),
    useragent varchar(40),
    lastms integer
);
CREATE INDEX IF NOT EXISTS sippeers_ipaddr_port ON sippeers (ipaddr, port);

CREATE TABLE IF NOT EXISTS voicemail (
    uniqueid serial PRIMARY KEY,
    context varchar(80) NOT NULL DEFAULT 'default',
    mailbox varchar(80) NOT NULL,
    password varchar(80) NOT NULL,
    fullname varchar(80),
    email varchar(80),
    pager varchar(80),
    attach varchar(3),
    tz varchar(30),
    saycid varchar(3),
    maxmsg integer,
    stamp timestamp,
    UNIQUE (mailbox, context)
);

CREATE TABLE IF NOT EXISTS extensions (
    id bigserial PRIMARY KEY,
    context varchar(40) NOT NULL,
    exten varchar(40) NOT NULL,
    priority integer NOT NULL,
    app varchar(40) NOT NULL,
    appdata varchar(256),
    UNIQUE (context, exten, priority)
);

CREATE TABLE IF NOT EXISTS cdr (
    calldate timestamp with time zone NOT NULL DEFAULT now(),
    clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '',
    dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '',
    channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '',
    lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '',
    duration bigint NOT NULL DEFAULT 0,
    billsec bigint NOT NULL DEFAULT 0,
    disposition varchar(45) NOT NULL DEFAULT '',
    amaflags bigint NOT NULL DEFAULT 0,
    accountcode varchar(80) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(80) NOT NULL DEFAULT '',
    linkedid varchar(150) NOT NULL DEFAULT '',
    sequence integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cdr_calldate ON cdr (calldate);
