// Drives the AWS SDK for JavaScript v3 IMDS clients against a running server and
// prints one JSON object with what they returned.  Assertions are made by
// ../test_js.py.  Usage: node imds_clients.cjs CASE ENDPOINT
//
// Cases:
//   fim-aws        fromInstanceMetadata() from @aws-sdk/credential-provider-imds
//                  (endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT)
//   fim-smithy     fromInstanceMetadata() from @smithy/credential-provider-imds (current)
//   ms-instance-id MetadataService({endpoint}).request('/latest/meta-data/instance-id', {})
//   ms-token       MetadataService({endpoint}).fetchMetadataToken()
//   ms-role        MetadataService({endpoint}).request('/latest/meta-data/iam/security-credentials/', {})
//   from-http      fromHttp() from @aws-sdk/credential-provider-http (the container
//                  variables: AWS_CONTAINER_CREDENTIALS_FULL_URI, ..._AUTHORIZATION_TOKEN)
//   from-container fromContainerMetadata() from @smithy/credential-provider-imds (the same)
"use strict";

const [, , which, endpoint] = process.argv;

function credsOut(c) {
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    expiration: c.expiration instanceof Date ? c.expiration.toISOString() : String(c.expiration),
    expirationMs: c.expiration instanceof Date ? c.expiration.getTime() : null,
    accountId: c.accountId === undefined ? null : c.accountId,
  };
}

const warnings = [];
const logger = {
  debug: () => {},
  info: () => {},
  warn: (...a) => warnings.push(a.map(String).join(" ")),
  error: (...a) => warnings.push(a.map(String).join(" ")),
};
// The providers also warn through console (static stability extension).
console.warn = (...a) => warnings.push(a.map(String).join(" "));

async function main() {
  switch (which) {
    case "fim-aws": {
      const { fromInstanceMetadata } = require("@aws-sdk/credential-provider-imds");
      const c = await fromInstanceMetadata({ logger })();
      return credsOut(c);
    }
    case "fim-smithy": {
      const { fromInstanceMetadata } = require("@smithy/credential-provider-imds");
      const c = await fromInstanceMetadata({ logger })();
      return credsOut(c);
    }
    case "ms-instance-id": {
      const { MetadataService } = require("@aws-sdk/ec2-metadata-service");
      const ms = new MetadataService({ endpoint, httpOptions: { timeout: 5000 }, retries: 0 });
      return { value: await ms.request("/latest/meta-data/instance-id", {}) };
    }
    case "ms-role": {
      const { MetadataService } = require("@aws-sdk/ec2-metadata-service");
      const ms = new MetadataService({ endpoint, httpOptions: { timeout: 5000 }, retries: 0 });
      return { value: await ms.request("/latest/meta-data/iam/security-credentials/", {}) };
    }
    case "ms-token": {
      const { MetadataService } = require("@aws-sdk/ec2-metadata-service");
      const ms = new MetadataService({ endpoint, httpOptions: { timeout: 5000 }, retries: 0 });
      return { value: await ms.fetchMetadataToken() };
    }
    case "from-http": {
      const { fromHttp } = require("@aws-sdk/credential-provider-http");
      const c = await fromHttp({ logger })();
      return credsOut(c);
    }
    case "from-container": {
      const { fromContainerMetadata } = require("@smithy/credential-provider-imds");
      const c = await fromContainerMetadata({ logger, timeout: 5000, maxRetries: 0 })();
      return credsOut(c);
    }
    default:
      throw new Error("unknown case " + which);
  }
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify({ ok: true, warnings, ...r }) + "\n");
  },
  (e) => {
    process.stdout.write(
      JSON.stringify({ ok: false, warnings, name: e && e.name, error: String(e && (e.stack || e)) }) + "\n"
    );
    process.exitCode = 1;
  }
);
