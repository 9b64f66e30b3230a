// Live alerts: new candidate sightings, pushed by the server (server-sent events), shown as a banner.
(function () {
  if (!window.EventSource) return;
  var source = new EventSource("/console/alerts");
  source.addEventListener("sighting", function (event) {
    var s = JSON.parse(event.data);
    var banner = document.getElementById("alerts");
    if (!banner) return;
    var item = document.createElement("div");
    item.className = "alert";
    item.textContent = "New candidate: " + s.name + " (case " + s.case + ", " + (s.camera || "no camera") +
      ", score " + s.score.toFixed(3) + ") — waiting for review";
    banner.prepend(item);
  });
  // The session ended (expired or signed out): stop, rather than reconnect to be refused.
  source.addEventListener("end", function () { source.close(); });
})();
