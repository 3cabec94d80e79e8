"""The OneRoster 1.1 CSV binding: the files of a bundle and their columns, in order.

One table for everything that writes or reads bundles (the generator, the sandbox).
"""

from __future__ import annotations

# The OneRoster 1.1 CSV binding's column order for each file Passback writes or reads.
COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier",
             "parentSourcedId"),
    "academicSessions": ("sourcedId", "status", "dateLastModified", "title", "type",
                         "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "courses": ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title",
                "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"),
    "classes": ("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
                "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
                "subjects", "subjectCodes", "periods"),
    "users": ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
              "username", "userIds", "givenName", "familyName", "middleName", "identifier",
              "email", "sms", "phone", "agentSourcedIds", "grades", "password"),
    "enrollments": ("sourcedId", "status", "dateLastModified", "classSourcedId",
                    "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate",
                    "endDate"),
    "categories": ("sourcedId", "status", "dateLastModified", "title"),
    "lineItems": ("sourcedId", "status", "dateLastModified", "title", "description",
                  "assignDate", "dueDate", "classSourcedId", "categorySourcedId",
                  "gradingPeriodSourcedId", "resultValueMin", "resultValueMax"),
    "results": ("sourcedId", "status", "dateLastModified", "lineItemSourcedId",
                "studentSourcedId", "scoreStatus", "score", "scoreDate", "comment"),
}
