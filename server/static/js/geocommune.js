/* geocommune: keep the language chosen with ?lang= while browsing.
 *
 * pygeoapi picks a page's language from ?lang= or else from Accept-Language, but its
 * pages link to each other without ?lang=: after choosing English on a French browser,
 * the next click would be French again. This carries ?lang= over to the links to our own
 * pages, and makes the language switch keep the current page's other parameters.
 */
(function () {
  'use strict';
  var here = new URL(window.location.href);
  var lang = here.searchParams.get('lang');

  document.querySelectorAll('a[hreflang][data-lang-switch]').forEach(function (link) {
    var target = new URL(here.href);
    target.searchParams.set('lang', link.getAttribute('hreflang'));
    link.href = target.href;
  });

  if (!lang) {
    return;
  }
  document.querySelectorAll('a[href]:not([data-lang-switch])').forEach(function (link) {
    var url;
    try {
      url = new URL(link.getAttribute('href'), here.href);
    } catch (error) {
      return;
    }
    if (url.origin !== here.origin || url.searchParams.has('lang')) {
      return;
    }
    url.searchParams.set('lang', lang);
    link.href = url.href;
  });
}());
