"""The browser demo: a static page (index.html, app.js) that runs an export's TFLite generator
on the client with LiteRT.js, and the small server behind `fashiongan demo`."""
