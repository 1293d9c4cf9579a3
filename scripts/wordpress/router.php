<?php
// Router for PHP's built-in server in front of Debian's WordPress: static
// files as they are, uploads from the instance's own content directory,
// PHP files run, everything else through index.php (pretty permalinks, so
// /wp-json/ routes work). WORDPRESS_CONFIG picks the instance's config file
// in /etc/wordpress (Debian's wp-config.php looks it up by this name).
$_SERVER['WORDPRESS_CONFIG'] = getenv('BIZOSAAS_WP_CONFIG');
$root = '/usr/share/wordpress';
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$path = rawurldecode($path === null ? '/' : $path);
if (str_contains($path, '..')) {
    http_response_code(400);
    return true;
}
if (str_starts_with($path, '/wp-content/uploads/')) {
    $file = getenv('BIZOSAAS_WP_CONTENT') . substr($path, strlen('/wp-content'));
    if (is_file($file)) {
        header('Content-Type: ' . (mime_content_type($file) ?: 'application/octet-stream'));
        readfile($file);
        return true;
    }
    http_response_code(404);
    return true;
}
$file = $root . $path;
if (is_dir($file)) {
    $file = rtrim($file, '/') . '/index.php';
}
if (is_file($file)) {
    if (!str_ends_with($file, '.php')) {
        return false;
    }
    chdir(dirname($file));
    $_SERVER['SCRIPT_NAME'] = substr($file, strlen($root));
    $_SERVER['SCRIPT_FILENAME'] = $file;
    $_SERVER['PHP_SELF'] = $_SERVER['SCRIPT_NAME'];
    require $file;
    return true;
}
chdir($root);
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
require $root . '/index.php';
return true;
