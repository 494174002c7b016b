use leptos::prelude::*;
use leptos_meta::{Meta, Title};

#[component]
pub fn AboutPage() -> impl IntoView {
    view! {
        <Title text="About"/>
        <Meta name="description" content="What cheeseshop is and how to install and publish packages with it."/>
        <article class="container prose about">
            <h1>"About cheeseshop"</h1>
            <p class="lead">
                "cheeseshop is a Python package index you can run yourself: the pypi.org experience "
                "— finding, installing and publishing packages — in one Rust binary with an embedded database."
            </p>
            <h2 id="find">"Finding packages"</h2>
            <p>
                "Start from the home page: it lists the projects that were updated most recently. "
                "Every project has a page with its description, links, metadata and full release history, at "
                <code>"/project/<name>/"</code> "."
            </p>
            <h2 id="install">"Installing packages"</h2>
            <p>"Point pip or uv at this index's Simple API:"</p>
            <pre tabindex="0" aria-label="Install commands"><code>"pip install --index-url http://127.0.0.1:3000/simple/ <package>\nuv pip install --index-url http://127.0.0.1:3000/simple/ <package>"</code></pre>
            <h2 id="publish">"Publishing packages"</h2>
            <p>"Create an account and an API token, then upload with twine or uv:"</p>
            <pre tabindex="0" aria-label="Upload command"><code>"twine upload --repository-url http://127.0.0.1:3000/legacy/ -u __token__ -p <token> dist/*"</code></pre>
            <h2 id="names">"Project names"</h2>
            <p>
                "Names are compared the way pip compares them (PEP 503): case, dots, underscores and "
                "dashes do not matter, so " <a href="/project/Zope.Interface">"/project/Zope.Interface"</a>
                " and " <code>"/project/zope-interface/"</code> " are the same project."
            </p>
            <h2 id="self-host">"Running your own"</h2>
            <p>
                "Two commands on a fresh machine: " <code>"make run"</code> " installs what is missing, creates "
                "the database, loads demo data and serves on port 3000; " <code>"make test"</code> " runs every test."
            </p>
        </article>
    }
}
