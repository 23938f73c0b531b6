// Posts the plan summary as one pull-request comment and edits that same comment on every later run.
//
// Called from actions/github-script:
//   await require("./examples/ci/upsert-comment.js")({ github, context, core }, ["infra/plan-summary.md", ...]);
// The files are joined in order; missing ones are skipped, so a step that did not run leaves no gap.
const fs = require("fs");

const MARKER = "<!-- fwcluster-plan-summary -->";
// GitHub refuses comments over 65,536 characters; keep room for the truncation note.
const LIMIT = 65000;

function body(files) {
  const parts = files.filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8").trim());
  let text = parts.filter((p) => p).join("\n\n");
  // The marker is how the next run finds this comment, so it must survive whatever the files held.
  if (!text.startsWith(MARKER)) text = `${MARKER}\n${text}`;
  if (text.length > LIMIT) {
    text = `${text.slice(0, LIMIT)}\n\n… (cut at ${LIMIT} characters; the job summary and log have the rest)`;
  }
  return text;
}

module.exports = async ({ github, context, core }, files) => {
  const text = body(files);
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number });
  // Only a bot's comment that starts with the marker: a person quoting the marker must not have their comment
  // overwritten.
  const previous = comments.find((c) => c.user && c.user.type === "Bot" && (c.body || "").startsWith(MARKER));
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body: text });
    core.info(`edited comment ${previous.id}`);
    return { action: "updated", id: previous.id };
  }
  const { data } = await github.rest.issues.createComment({ owner, repo, issue_number, body: text });
  core.info(`created comment ${data.id}`);
  return { action: "created", id: data.id };
};
