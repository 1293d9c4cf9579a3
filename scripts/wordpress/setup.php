<?php
// Installs WordPress unattended (once), then makes sure of what the tests
// expect: pretty permalinks, an application password for the admin (written
// to the file given), and a few hundred posts, pages and media items.
// Usage: php setup.php URL APP_PASSWORD_FILE POSTS PAGES MEDIA
[$_, $url, $password_file, $posts, $pages, $media] = $argv;
$_SERVER['WORDPRESS_CONFIG'] = getenv('BIZOSAAS_WP_CONFIG');
$_SERVER['HTTP_HOST'] = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', !file_exists($password_file));
// No mail leaves the machine: the install's notification is a no-op.
function wp_new_blog_notification() {}
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';

if (!is_blog_installed()) {
    wp_install('BizOSaaS test site', 'admin', 'admin@example.test', true, '', wp_generate_password(24));
}
update_option('permalink_structure', '/%postname%/');
update_option('siteurl', $url);
update_option('home', $url);
flush_rewrite_rules();

$admin = get_user_by('login', 'admin');
wp_set_current_user($admin->ID);
if (!file_exists($password_file)) {
    [$password] = WP_Application_Passwords::create_new_application_password($admin->ID, ['name' => 'bizosaas tests']);
    file_put_contents($password_file, $password);
}

function count_of(string $type): int {
    $counts = (array) wp_count_posts($type);
    return array_sum(array_map('intval', $counts));
}
// Seeded items are found by title, so a rerun adds only what is missing
// and the install's own sample post and page do not count.
function missing(string $type, string $prefix, int $n): array {
    global $wpdb;
    $have = array_flip($wpdb->get_col($wpdb->prepare(
        "SELECT post_title FROM {$wpdb->posts} WHERE post_type = %s AND post_title LIKE %s",
        $type, $prefix . '%')));
    return array_values(array_filter(range(0, $n - 1), fn($i) => !isset($have["$prefix$i"])));
}
foreach (missing('post', 'Seeded post ', (int) $posts) as $i) {
    wp_insert_post([
        'post_type' => 'post',
        'post_status' => $i % 5 === 0 ? 'draft' : 'publish',
        'post_title' => "Seeded post $i",
        'post_content' => "<!-- wp:paragraph --><p>Body of seeded post $i.</p><!-- /wp:paragraph -->",
        'post_excerpt' => "Excerpt $i",
    ]);
}
foreach (missing('page', 'Seeded page ', (int) $pages) as $i) {
    wp_insert_post([
        'post_type' => 'page',
        'post_status' => 'publish',
        'post_title' => "Seeded page $i",
        'post_content' => "<p>Body of seeded page $i.</p>",
    ]);
}
$uploads = wp_upload_dir();
foreach (missing('attachment', 'Seeded media ', (int) $media) as $i) {
    $name = "seeded-$i.txt";
    $file = $uploads['path'] . '/' . $name;
    file_put_contents($file, "Seeded media item $i\n");
    $id = wp_insert_attachment([
        'post_mime_type' => 'text/plain',
        'post_title' => "Seeded media $i",
        'post_status' => 'inherit',
        'guid' => $uploads['url'] . '/' . $name,
    ], $file);
    wp_update_attachment_metadata($id, wp_generate_attachment_metadata($id, $file));
}
wp_cache_flush();
printf("posts %d, pages %d, media %d\n", count_of('post'), count_of('page'), count_of('attachment'));
