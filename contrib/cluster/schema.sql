-- PostgreSQL schema of a ferrisk cluster (docs/cluster.md): one database shared by
-- Kamailio (registrar, dispatcher) and the ferrisk nodes (realtime peers and voicemail
-- boxes through res_config_pgsql, call records through cdr_pgsql).
--
-- Kamailio's tables are those of Kamailio 5.6 (/usr/share/kamailio/postgres/*-create.sql:
-- standard, usrloc, dispatcher); Asterisk's are those of Asterisk's ast-db-manage
-- (sippeers, voicemail, cdr) with enumerations as plain text, so existing Asterisk
-- schemas and tools keep working. Loaded by contrib/cluster/start.sh into a fresh database.

-- Kamailio -------------------------------------------------------------------------

CREATE TABLE version (
    id SERIAL PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);
INSERT INTO version (table_name, table_version) VALUES ('version', '1');

CREATE TABLE location (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(512) DEFAULT '' NOT NULL,
    received VARCHAR(128) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT location_ruid_idx UNIQUE (ruid)
);

CREATE INDEX location_account_contact_idx ON location (username, domain, contact);
CREATE INDEX location_expires_idx ON location (expires);
CREATE INDEX location_tcpcon_idx ON location (connection_id);
CREATE INDEX location_connection_idx ON location (server_id, connection_id);

INSERT INTO version (table_name, table_version) values ('location','9');

CREATE TABLE location_attrs (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    aname VARCHAR(64) DEFAULT '' NOT NULL,
    atype INTEGER DEFAULT 0 NOT NULL,
    avalue VARCHAR(512) DEFAULT '' NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL
);

CREATE INDEX location_attrs_account_record_idx ON location_attrs (username, domain, ruid);
CREATE INDEX location_attrs_last_modified_idx ON location_attrs (last_modified);

INSERT INTO version (table_name, table_version) values ('location_attrs','1');


CREATE TABLE dispatcher (
    id SERIAL PRIMARY KEY NOT NULL,
    setid INTEGER DEFAULT 0 NOT NULL,
    destination VARCHAR(192) DEFAULT '' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    priority INTEGER DEFAULT 0 NOT NULL,
    attrs VARCHAR(128) DEFAULT '' NOT NULL,
    description VARCHAR(64) DEFAULT '' NOT NULL
);

INSERT INTO version (table_name, table_version) values ('dispatcher','4');


-- Asterisk -------------------------------------------------------------------------

-- chan_sip realtime peers (extconfig.conf: sippeers => pgsql,general,sippeers).
-- Kamailio authenticates phones against name/secret (plain text).
CREATE TABLE sippeers (
    id SERIAL PRIMARY KEY NOT NULL,
    name VARCHAR(40) NOT NULL UNIQUE,
    ipaddr VARCHAR(45),
    port INTEGER,
    regseconds INTEGER,
    defaultuser VARCHAR(40),
    fullcontact VARCHAR(80),
    regserver VARCHAR(20),
    useragent VARCHAR(255),
    lastms INTEGER,
    host VARCHAR(40),
    type VARCHAR(6),
    context VARCHAR(40),
    permit VARCHAR(95),
    deny VARCHAR(95),
    secret VARCHAR(40),
    md5secret VARCHAR(40),
    remotesecret VARCHAR(40),
    transport VARCHAR(10),
    dtmfmode VARCHAR(10),
    directmedia VARCHAR(6),
    nat VARCHAR(29),
    callgroup VARCHAR(40),
    pickupgroup VARCHAR(40),
    language VARCHAR(40),
    disallow VARCHAR(200),
    allow VARCHAR(200),
    insecure VARCHAR(40),
    trustrpid VARCHAR(3),
    progressinband VARCHAR(5),
    promiscredir VARCHAR(3),
    useclientcode VARCHAR(3),
    accountcode VARCHAR(80),
    setvar VARCHAR(200),
    callerid VARCHAR(40),
    amaflags VARCHAR(40),
    callcounter VARCHAR(3),
    busylevel INTEGER,
    allowoverlap VARCHAR(3),
    allowsubscribe VARCHAR(3),
    videosupport VARCHAR(3),
    maxcallbitrate INTEGER,
    rfc2833compensate VARCHAR(3),
    mailbox VARCHAR(40),
    "session-timers" VARCHAR(9),
    "session-expires" INTEGER,
    "session-minse" INTEGER,
    "session-refresher" VARCHAR(3),
    t38pt_usertpsource VARCHAR(40),
    regexten VARCHAR(40),
    fromdomain VARCHAR(40),
    fromuser VARCHAR(40),
    "qualify" VARCHAR(40),
    defaultip VARCHAR(45),
    rtptimeout INTEGER,
    rtpholdtimeout INTEGER,
    sendrpid VARCHAR(3),
    outboundproxy VARCHAR(40),
    callbackextension VARCHAR(40),
    timert1 INTEGER,
    timerb INTEGER,
    qualifyfreq INTEGER,
    constantssrc VARCHAR(3),
    contactpermit VARCHAR(95),
    contactdeny VARCHAR(95),
    usereqphone VARCHAR(3),
    textsupport VARCHAR(3),
    faxdetect VARCHAR(3),
    buggymwi VARCHAR(3),
    auth VARCHAR(40),
    fullname VARCHAR(40),
    trunkname VARCHAR(40),
    cid_number VARCHAR(40),
    callingpres VARCHAR(24),
    mohinterpret VARCHAR(40),
    mohsuggest VARCHAR(40),
    parkinglot VARCHAR(40),
    hasvoicemail VARCHAR(3),
    subscribemwi VARCHAR(3),
    vmexten VARCHAR(40),
    autoframing VARCHAR(3),
    rtpkeepalive INTEGER,
    "call-limit" INTEGER,
    g726nonstandard VARCHAR(3),
    ignoresdpversion VARCHAR(3),
    allowtransfer VARCHAR(3),
    dynamic VARCHAR(3),
    path VARCHAR(256),
    supportpath VARCHAR(3)
);
CREATE INDEX sippeers_name ON sippeers (name);
CREATE INDEX sippeers_name_host ON sippeers (name, host);
CREATE INDEX sippeers_ipaddr_port ON sippeers (ipaddr, port);
CREATE INDEX sippeers_host_port ON sippeers (host, port);

-- app_voicemail realtime boxes (extconfig.conf: voicemail => pgsql,general,voicemail).
CREATE TABLE voicemail (
    uniqueid SERIAL PRIMARY KEY NOT NULL,
    context VARCHAR(80) NOT NULL,
    mailbox VARCHAR(80) NOT NULL,
    password VARCHAR(80) NOT NULL,
    fullname VARCHAR(80),
    alias VARCHAR(80),
    email VARCHAR(80),
    pager VARCHAR(80),
    attach VARCHAR(3),
    attachfmt VARCHAR(10),
    serveremail VARCHAR(80),
    language VARCHAR(20),
    tz VARCHAR(30),
    deletevoicemail VARCHAR(3),
    saycid VARCHAR(3),
    sendvoicemail VARCHAR(3),
    review VARCHAR(3),
    tempgreetwarn VARCHAR(3),
    operator VARCHAR(3),
    envelope VARCHAR(3),
    sayduration INTEGER,
    forcename VARCHAR(3),
    forcegreetings VARCHAR(3),
    callback VARCHAR(80),
    dialout VARCHAR(80),
    exitcontext VARCHAR(80),
    maxmsg INTEGER,
    volgain NUMERIC(5, 2),
    imapuser VARCHAR(80),
    imappassword VARCHAR(80),
    imapserver VARCHAR(80),
    imapport VARCHAR(8),
    imapflags VARCHAR(80),
    stamp TIMESTAMP
);
CREATE INDEX voicemail_mailbox ON voicemail (mailbox);
CREATE INDEX voicemail_context ON voicemail (context);
CREATE INDEX voicemail_mailbox_context ON voicemail (mailbox, context);
CREATE INDEX voicemail_imapuser ON voicemail (imapuser);

-- Call records of every node (cdr_pgsql.conf: table=cdr).
CREATE TABLE cdr (
    accountcode VARCHAR(80),
    src VARCHAR(80),
    dst VARCHAR(80),
    dcontext VARCHAR(80),
    clid VARCHAR(80),
    channel VARCHAR(80),
    dstchannel VARCHAR(80),
    lastapp VARCHAR(80),
    lastdata VARCHAR(80),
    start TIMESTAMP,
    answer TIMESTAMP,
    "end" TIMESTAMP,
    duration INTEGER,
    billsec INTEGER,
    disposition VARCHAR(45),
    amaflags VARCHAR(45),
    userfield VARCHAR(256),
    uniqueid VARCHAR(150),
    linkedid VARCHAR(150),
    peeraccount VARCHAR(80),
    sequence INTEGER
);
