DROP FUNCTION gallery._gallery_hmac_sha256(text, text);
