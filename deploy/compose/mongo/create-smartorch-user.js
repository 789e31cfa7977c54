// Creates the orchestrator's own MongoDB user, with readWrite on its database
// only (the root user stays for administration). The mongo image runs this
// with mongosh, as root, once: when the data volume is first initialised.
// Changing SMARTORCH_DB_PASSWORD later needs db.changeUserPassword().
const dbName = process.env.SMARTORCH_DB_NAME || "smartorch";
const user = process.env.SMARTORCH_DB_USER || "smartorch";
const password = process.env.SMARTORCH_DB_PASSWORD;
if (!password) {
  throw new Error("SMARTORCH_DB_PASSWORD is not set");
}
db.getSiblingDB(dbName).createUser({
  user: user,
  pwd: password,
  roles: [{ role: "readWrite", db: dbName }],
});
print(`created user ${user} with readWrite on ${dbName}`);
